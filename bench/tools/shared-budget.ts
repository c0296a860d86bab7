/**
 * `node bench/tools/shared-budget.ts`: what sharing the CRM budget through Redis (REDIS_URL) adds to an upload. Two
 * gateways from this checkout run at once against the sink, one on its own limit (no REDIS_URL), one with a Redis on
 * loopback (a `redis-server` started here, nothing saved); cells alternated local, shared, shared, local… so both
 * see the same machine load. Prints medians over BENCH_AB_ROUNDS (default 5) of p50, p99 and uploads/s, the
 * difference, and the Redis commands per upload.
 *   BENCH_SHARED_CELLS=1m:16 (size:concurrency, comma-separated)   BENCH_WINDOW_MS=3000
 * Also prints the slot wait of every upload (`queuedMs` in its log line): what the budget itself adds before the CRM call.
 *   BENCH_GATEWAY_ENV=CRM_MAX_CONCURRENCY=10 (default here 64: no call waits for a slot, so the figure is the cost of
 *   taking one; at 10 < 16 the waits show the slot polling too)
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import type { CellOutcome, Rig } from '../cells.ts';
import { killAllNow, stopAll } from '../children.ts';
import { startGateway, startLoadGenerator, startSink, type Server } from '../servers.ts';
import { KiB, loadSettings, MiB } from '../settings.ts';
import { median, percentile, sig, sizeLabel } from '../stats.ts';
import { runAlternated } from './alternated.ts';

const settings = loadSettings();
const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 5);
const cells = (process.env.BENCH_SHARED_CELLS ?? '1m:16').split(',').map((entry) => {
  const [size = '', concurrency = '1'] = entry.split(':');
  return { size: Math.round(Number.parseFloat(size) * (/m/i.test(size) ? MiB : KiB)), concurrency: Number(concurrency) };
});

const port = await new Promise<number>((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const { port: free } = server.address() as AddressInfo;
    server.close(() => resolve(free));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
const stopRedis = () => {
  if (redis.exitCode === null) redis.kill('SIGKILL');
};
process.on('exit', () => {
  stopRedis();
  killAllNow();
});
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
await new Promise<void>((resolve, reject) => {
  let output = '';
  redis.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('Ready to accept connections')) resolve();
  });
  redis.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)));
});

/** Commands the gateway sent (INFO commandstats; the commands its Lua scripts run inside Redis are not counted). */
const CLIENT_COMMANDS = ['evalsha', 'eval', 'pttl', 'zrem', 'get', 'set', 'exec'];
function commandsSent(): Promise<number> {
  return new Promise((resolve, reject) => {
    // A raw RESP connection: the bench needs no Redis client of its own.
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      // One bulk string: `$<length>\r\n<payload>\r\n`.
      const header = /^\$(\d+)\r\n/.exec(reply.subarray(0, 32).toString('latin1'));
      if (!header || reply.length < header[0].length + Number(header[1])) return;
      socket.end();
      let total = 0;
      for (const [, name, calls] of reply.toString('latin1').matchAll(/cmdstat_(\w+):calls=(\d+)/g)) if (CLIENT_COMMANDS.includes(name!)) total += Number(calls);
      resolve(total);
    });
    socket.on('error', reject);
    socket.write('INFO commandstats\r\n');
  });
}

/**
 * Slot waits (`queuedMs` of each upload's log line), per cell and gateway: the time the budget adds before the CRM
 * call. Cells run one at a time, so a line belongs to the cell running when it is read.
 */
const slotWaits = new Map<string, number[]>();
let currentCell = '';
function collectSlotWaits(name: string, server: Server): void {
  let pending = '';
  server.child.process.stdout?.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = /"queuedMs":([\d.]+)/.exec(line);
      if (!match) continue;
      const key = `${currentCell}|${name}`;
      slotWaits.set(key, [...(slotWaits.get(key) ?? []), Number(match[1])]);
    }
  });
}

const sink = await startSink(settings.root);
const load = await startLoadGenerator(settings.root);
await load.call('prepare', { sizes: [...new Set(cells.map((c) => c.size))] });
const env = { CRM_MAX_CONCURRENCY: '64', ...settings.gatewayEnv };
const common = { root: settings.root, sinkOrigin: sink.origin, gatewayRoot: settings.root };
const variants: [string, Server][] = [
  ['local', await startGateway({ ...common, env })],
  ['shared', await startGateway({ ...common, env: { ...env, REDIS_URL: `redis://127.0.0.1:${port}`, CRM_REPLICAS: '1' } })],
];
for (const [name, server] of variants) collectSlotWaits(name, server);
for (const child of [sink.child, load, ...variants.map(([, s]) => s.child)]) {
  child.onUnexpectedDeath((error) => {
    console.error(`shared-budget: FAILED — ${error.message}`);
    process.exit(1);
  });
}
let tag = 0;
const rig: Rig = { load, sink, nextTag: () => ++tag };
const results = new Map<string, CellOutcome[]>();
const commands = new Map<string, { commands: number; uploads: number }>();
let before = 0;
await runAlternated(rig, settings, {
  rounds,
  cells,
  variants,
  before: async (cellLabel) => {
    currentCell = cellLabel;
    before = await commandsSent();
  },
  after: async ({ round, key, cell }) => {
    results.set(key, [...(results.get(key) ?? []), cell]);
    // Warm-up uploads count too (they reach Redis), so commands per upload is an upper bound.
    const counted = commands.get(key) ?? { commands: 0, uploads: 0 };
    counted.commands += (await commandsSent()) - before;
    counted.uploads += cell.completed;
    commands.set(key, counted);
    process.stderr.write(`round ${round + 1} ${key}: p50 ${sig(cell.p50Ms)} ms, p99 ${sig(cell.p99Ms)} ms\n`);
  },
});
await stopAll();
stopRedis();
console.log(`local = no REDIS_URL, shared = REDIS_URL on loopback; gateway env ${JSON.stringify(env)}; medians of ${rounds} rounds\n`);
console.log('| cell | p50 ms local · shared | p99 ms local · shared | p50 added | p99 added | uploads/s local · shared | Redis commands sent per upload |');
console.log('|:--|--:|--:|--:|--:|--:|--:|');
for (const { size, concurrency } of cells) {
  const label = `${sizeLabel(size)} × ${concurrency}`;
  const local = results.get(`${label}|local`) ?? [];
  const shared = results.get(`${label}|shared`) ?? [];
  const m = (list: CellOutcome[], pick: (c: CellOutcome) => number): number => median(list.map(pick));
  const used = commands.get(`${label}|shared`);
  const perUpload = used && used.uploads > 0 ? used.commands / used.uploads : Number.NaN;
  console.log(
    `| ${label} | ${sig(m(local, (c) => c.p50Ms))} · ${sig(m(shared, (c) => c.p50Ms))} | ${sig(m(local, (c) => c.p99Ms))} · ${sig(m(shared, (c) => c.p99Ms))} | ` +
      `${sig(m(shared, (c) => c.p50Ms) - m(local, (c) => c.p50Ms))} | ${sig(m(shared, (c) => c.p99Ms) - m(local, (c) => c.p99Ms))} | ` +
      `${sig(m(local, (c) => c.uploadsPerS))} · ${sig(m(shared, (c) => c.uploadsPerS))} | ≤ ${perUpload.toFixed(1)} |`,
  );
}
console.log('\nSlot wait per upload (queuedMs of the upload log lines: every upload of the cell, warm-ups included):\n');
console.log('| cell | gateway | uploads | p50 ms | p99 ms | max ms |');
console.log('|:--|:--|--:|--:|--:|--:|');
for (const { size, concurrency } of cells) {
  for (const name of ['local', 'shared']) {
    const label = `${sizeLabel(size)} × ${concurrency}`;
    const waits = slotWaits.get(`${label}|${name}`) ?? [];
    console.log(`| ${label} | ${name} | ${waits.length} | ${sig(percentile(waits, 50))} | ${sig(percentile(waits, 99))} | ${sig(Math.max(...waits))} |`);
  }
}
