/**
 * `node bench/tools/profile.ts`: runs a few cells against the gateway (or the raw proxy) started under --cpu-prof,
 * stops it so the profile is written, and prints where its time went.
 *   BENCH_PROFILE_TARGET=gateway|raw|yoga   (default gateway; yoga = the stack floor, bench/yoga-forwarder.ts)
 *   BENCH_PROFILE_CELLS=9m:1,9m:16     size:concurrency list (default 9m:1,1m:16,9m:16)
 *   BENCH_WINDOW_MS=3000
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { runCell, PATH_LABELS, type Rig } from '../cells.ts';
import { Child, killAllNow, stopAll } from '../children.ts';
import { renderSummary, summarize } from './profile-summary.ts';
import { startGateway, startLoadGenerator, startRawProxy, startSink, startYogaForwarder } from '../servers.ts';
import { loadSettings, MiB } from '../settings.ts';
import { sig, sizeLabel } from '../stats.ts';

process.on('exit', killAllNow);
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const settings = loadSettings();
const target = process.env.BENCH_PROFILE_TARGET === 'raw' ? 'raw' : process.env.BENCH_PROFILE_TARGET === 'yoga' ? 'yoga' : 'gateway';
const cells = (process.env.BENCH_PROFILE_CELLS ?? '9m:1,1m:16,9m:16').split(',').map((entry) => {
  const [size, concurrency] = entry.split(':');
  const bytes = Math.round(Number.parseFloat(size ?? '') * (/m/i.test(size ?? '') ? MiB : 1024));
  return { size: bytes, concurrency: Number(concurrency) };
});
const dir = `${settings.root}bench/profiles/${new Date().toISOString().replace(/[:.]/g, '-')}-${target}`;
mkdirSync(dir, { recursive: true });

function fail(error: unknown): never {
  process.stderr.write(`profile: FAILED — ${error instanceof Error ? error.message : String(error)}\n`);
  killAllNow();
  process.exit(1);
}

try {
  const sink = await startSink(settings.root);
  const load = await startLoadGenerator(settings.root);
  const deaths: Child[] = [sink.child, load];
  await load.call('prepare', { sizes: [...new Set(cells.map((c) => c.size))] });
  const server = target === 'raw' ? await startRawProxy(settings.root, sink.origin, dir) : target === 'yoga' ? await startYogaForwarder(settings.root, sink.origin, dir) : await startGateway({ root: settings.root, gatewayRoot: settings.gatewayRoot, sinkOrigin: sink.origin, env: settings.gatewayEnv, profileDir: dir });
  deaths.push(server.child);
  for (const child of deaths) child.onUnexpectedDeath(fail);
  let tag = 0;
  const rig: Rig = { load, sink, nextTag: () => ++tag };
  // Lazy module loading and JIT warm-up happen on the first requests: keep them out of the profile.
  for (const size of new Set(cells.map((c) => c.size))) {
    await runCell(rig, { path: target, server, size, concurrency: 4, mode: { kind: 'count', requests: 40 }, measureFirstByte: false, timeoutMs: settings.cellTimeoutMs });
  }
  const measuredFromUs = Number(process.hrtime.bigint() / 1000n);
  for (const { size, concurrency } of cells) {
    const cell = await runCell(rig, {
      path: target,
      server,
      size,
      concurrency,
      mode: { kind: 'window', warmupCompletions: concurrency, warmupMs: 500, windowMs: settings.windowMs, minWindowCompletions: Math.max(2 * concurrency, 30) },
      measureFirstByte: concurrency === 1,
      timeoutMs: settings.cellTimeoutMs,
    });
    process.stderr.write(
      `${sizeLabel(size)} × ${concurrency} ${PATH_LABELS[target]}: ${sig(cell.uploadsPerS)} uploads/s, p50 ${sig(cell.p50Ms)} ms, ` +
        `server CPU ${sig(cell.serverCpuPerGB ?? Number.NaN)} s/GB\n`,
    );
  }
  await server.child.stop(10_000);
  await stopAll();
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) fail(`no .cpuprofile was written in ${dir}`);
  process.stdout.write(`${dir}/${file} (measured cells only, from ${measuredFromUs} µs; start-up and warm-up left out)\n\n${renderSummary(summarize(`${dir}/${file}`, 25, measuredFromUs))}\n`);
} catch (error) {
  fail(error);
}
