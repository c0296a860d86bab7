// The container's HEALTHCHECK: exit 0 when the gateway answers its health endpoint on this machine.
const port = process.env.PORT || '4000';
try {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
