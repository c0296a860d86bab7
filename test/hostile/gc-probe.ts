/**
 * Preloaded into the gateway by the memory tests (NODE_OPTIONS="--expose-gc --import <this file>"); not part of
 * the app. On SIGUSR2 it runs full garbage collections and prints one line with process.memoryUsage(), so a test
 * can sample the memory the gateway actually holds rather than garbage a lazy GC has not collected yet.
 */
let probes = 0;
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  probes += 1;
  process.stdout.write(`memory-probe ${probes} ${JSON.stringify(process.memoryUsage())}\n`);
});
