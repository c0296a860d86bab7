/**
 * Preloaded (`--import`) into the gateway, which run.ts forks with an IPC channel: when the bench goes away,
 * the gateway is asked to stop as it would be by a supervisor (SIGTERM, so a --cpu-prof profile is written),
 * and killed if it does not within 5 s. It adds no work to the request path.
 */
process.on('disconnect', () => {
  setTimeout(() => process.exit(1), 5_000).unref();
  process.kill(process.pid, 'SIGTERM');
});
