/**
 * `BENCH_AB_ROOT=/path/to/other/checkout node bench/tools/ab.ts`: the gateway from this checkout (A) against the one in
 * BENCH_AB_ROOT (B, default: this checkout too), both running at once, cells alternated A, B, A, B… so both see the
 * same machine load. BENCH_AB_ENV_A / BENCH_AB_ENV_B (KEY=VALUE,…) add environment to one side, e.g.
 * BENCH_AB_ENV_B=NODE_OPTIONS=--max-semi-space-size=2.
 * Prints medians over BENCH_AB_ROUNDS (default 3) of uploads/s, p50 and server CPU s/GB per cell.
 *   BENCH_AB_CELLS=100k:1,100k:16,9m:1,9m:16   BENCH_WINDOW_MS=2000
 */
import type { CellOutcome, Rig } from '../cells.ts';
import { killAllNow, stopAll } from '../children.ts';
import { startGateway, startLoadGenerator, startSink, type Server } from '../servers.ts';
import { KiB, loadSettings, MiB } from '../settings.ts';
import { median, sig, sizeLabel } from '../stats.ts';
import { runAlternated } from './alternated.ts';

process.on('exit', killAllNow);
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const settings = loadSettings();
const otherRoot = process.env.BENCH_AB_ROOT ?? settings.root;
const envOf = (raw: string | undefined): Record<string, string> =>
  Object.fromEntries((raw ?? '').split(',').filter(Boolean).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
const envA = envOf(process.env.BENCH_AB_ENV_A);
const envB = envOf(process.env.BENCH_AB_ENV_B);
const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 3);
const cells = (process.env.BENCH_AB_CELLS ?? '100k:1,100k:16,9m:1,9m:16').split(',').map((entry) => {
  const [size = '', concurrency = '1'] = entry.split(':');
  return { size: Math.round(Number.parseFloat(size) * (/m/i.test(size) ? MiB : KiB)), concurrency: Number(concurrency) };
});

const sink = await startSink(settings.root);
const load = await startLoadGenerator(settings.root);
await load.call('prepare', { sizes: [...new Set(cells.map((c) => c.size))] });
const common = { root: settings.root, sinkOrigin: sink.origin, env: settings.gatewayEnv };
const variants: [string, Server][] = [
  ['A', await startGateway({ ...common, env: { ...common.env, ...envA }, gatewayRoot: settings.root })],
  ['B', await startGateway({ ...common, env: { ...common.env, ...envB }, gatewayRoot: otherRoot.replace(/\/?$/, '/') })],
];
for (const child of [sink.child, load, ...variants.map(([, s]) => s.child)]) {
  child.onUnexpectedDeath((error) => {
    console.error(`ab: FAILED — ${error.message}`);
    process.exit(1);
  });
}
let tag = 0;
const rig: Rig = { load, sink, nextTag: () => ++tag };
const results = new Map<string, CellOutcome[]>();
await runAlternated(rig, settings, {
  rounds,
  cells,
  variants,
  after: ({ round, key, cell }) => {
    results.set(key, [...(results.get(key) ?? []), cell]);
    process.stderr.write(`round ${round + 1} ${key}: ${sig(cell.uploadsPerS)} uploads/s\n`);
  },
});
await stopAll();
console.log(`A = ${settings.root} ${JSON.stringify(envA)}, B = ${otherRoot} ${JSON.stringify(envB)}; medians of ${rounds} rounds\n`);
console.log('| cell | uploads/s A · B | p50 ms A · B | server CPU s/GB A · B | B ÷ A CPU |');
console.log('|:--|--:|--:|--:|--:|');
for (const { size, concurrency } of cells) {
  const a = results.get(`${sizeLabel(size)} × ${concurrency}|A`) ?? [];
  const b = results.get(`${sizeLabel(size)} × ${concurrency}|B`) ?? [];
  const m = (list: CellOutcome[], pick: (c: CellOutcome) => number): number => median(list.map(pick));
  const cpuA = m(a, (c) => c.serverCpuPerGB ?? Number.NaN);
  const cpuB = m(b, (c) => c.serverCpuPerGB ?? Number.NaN);
  console.log(
    `| ${sizeLabel(size)} × ${concurrency} | ${sig(m(a, (c) => c.uploadsPerS))} · ${sig(m(b, (c) => c.uploadsPerS))} | ` +
      `${sig(m(a, (c) => c.p50Ms))} · ${sig(m(b, (c) => c.p50Ms))} | ${sig(cpuA)} · ${sig(cpuB)} | ×${(cpuB / cpuA).toFixed(2)} |`,
  );
}
