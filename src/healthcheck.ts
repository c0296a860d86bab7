import './node-version.ts';

// The container's HEALTHCHECK: exit 0 when the gateway's liveness probe answers on this machine, whatever HOST it
// listens on (all interfaces, loopback, one address, IPv4 or IPv6).
const port = process.env.PORT || '4000';
const host = (process.env.HOST ?? '').trim();
const target = host === '' || host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
try {
  const response = await fetch(`http://${target}:${port}/health/live`, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
