/**
 * Preloaded (`--import`) into a server by `node bench/tools/memory-probe-run.ts`: samples process.memoryUsage() every
 * 20 ms and, on exit, prints the peaks — to tell live data from garbage and JS heap from ArrayBuffers.
 * Diagnostic only; the bench itself never loads it.
 */
const peaks = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
let armed = false;
const timer = setInterval(() => {
  if (!armed) return;
  // With --expose-gc and MEMORY_PROBE_GC=1: collect first, so the peaks are of live data only.
  if (process.env.MEMORY_PROBE_GC === '1') (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  for (const key of Object.keys(peaks) as (keyof typeof peaks)[]) peaks[key] = Math.max(peaks[key], usage[key]);
}, 20);
timer.unref();
// SIGUSR2 marks the start of the measured load (after the idle baseline is printed).
process.on('SIGUSR2', () => {
  const usage = process.memoryUsage();
  process.stderr.write(`memory-probe baseline ${JSON.stringify(usage)}\n`);
  armed = true;
});
process.on('exit', () => {
  process.stderr.write(`memory-probe peaks ${JSON.stringify(peaks)}\n`);
});
