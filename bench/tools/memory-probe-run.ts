/**
 * `node bench/tools/memory-probe-run.ts`: the bench's memory run (fresh process, warm-up, idle, 64 × 9 MB) against the
 * gateway or the raw proxy with the memory probe preloaded and optional extra Node flags, to explain RSS growth.
 *   BENCH_PROFILE_TARGET=gateway|raw   BENCH_NODE_ARGS="--max-semi-space-size=2"
 *   MEMORY_PROBE_GC=1 BENCH_NODE_ARGS=--expose-gc: a full GC before each sample, so the peaks are live data only
 *   MEMORY_PROBE_CRM_DELAY_MS=1000: the sink waits that long before each answer (the bench's slow-CRM memory run)
 */
import { runCell, type Rig } from '../cells.ts';
import { startChild, killAllNow, stopAll } from '../children.ts';
import { startGateway, startLoadGenerator, startSink, type Server } from '../servers.ts';
import { loadSettings } from '../settings.ts';

process.on('exit', killAllNow);
const settings = loadSettings();
const target = process.env.BENCH_PROFILE_TARGET === 'raw' ? 'raw' : 'gateway';
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const probe = new URL('./memory-probe.ts', import.meta.url).href;

const sink = await startSink(settings.root);
const load = await startLoadGenerator(settings.root);
const { memory } = settings;
await load.call('prepare', { sizes: [memory.size, memory.warmSize] });
let server: Server;
if (target === 'gateway') {
  server = await startGateway({
    root: settings.root,
    gatewayRoot: settings.gatewayRoot,
    sinkOrigin: sink.origin,
    env: { ...settings.gatewayEnv, MEMORY_PROBE_GC: process.env.MEMORY_PROBE_GC ?? '' },
    execArgv: ['--import', probe, ...nodeArgs],
  });
} else {
  const { child, ready } = await startChild<{ port: number }>({
    name: 'raw proxy',
    module: 'bench/raw-proxy.ts',
    cwd: settings.root,
    execArgv: ['--import', probe, ...nodeArgs],
    env: { SINK_ORIGIN: sink.origin, MEMORY_PROBE_GC: process.env.MEMORY_PROBE_GC ?? '' },
    ready: { announce: 'ready' },
  });
  server = { child, origin: `http://127.0.0.1:${ready.port}`, path: '/graphql' };
}
let tag = 0;
const rig: Rig = { load, sink, nextTag: () => ++tag };
await runCell(rig, { path: target, server, size: memory.warmSize, concurrency: 4, mode: { kind: 'count', requests: 16 }, measureFirstByte: false, timeoutMs: 120_000 });
await new Promise((resolve) => setTimeout(resolve, 500));
server.child.process.kill('SIGUSR2');
await new Promise((resolve) => setTimeout(resolve, 50));
const cell = await runCell(rig, {
  path: target,
  server,
  size: memory.size,
  concurrency: memory.concurrency,
  mode: { kind: 'count', requests: memory.requests },
  measureFirstByte: false,
  timeoutMs: 120_000,
  memoryRun: true,
  crmAnswerDelayMs: Number(process.env.MEMORY_PROBE_CRM_DELAY_MS ?? 0),
});
await server.child.stop(10_000);
const lines = server.child.output.split('\n').filter((line) => line.startsWith('memory-probe'));
console.log(`${target} ${nodeArgs.join(' ')}: RSS growth +${((cell.rssGrowth ?? 0) / 2 ** 20).toFixed(1)} MiB over ${((cell.rssBaseline ?? 0) / 2 ** 20).toFixed(1)} MiB, ${cell.uploadsPerS.toFixed(1)} uploads/s`);
const mib = (line: string | undefined): string =>
  line ? Object.entries(JSON.parse(line.replace(/^memory-probe \w+ /, '')) as Record<string, number>).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(1)}`).join(', ') : '?';
console.log(`  baseline: ${mib(lines.find((l) => l.includes('baseline')))}`);
console.log(`  peaks:    ${mib(lines.find((l) => l.includes('peaks')))}`);
await stopAll();
