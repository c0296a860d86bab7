/**
 * `node bench/tools/read-cell.ts`: only the bench's read cell — the CRM sink and the gateway (`node src/main.ts`) as
 * `npm run bench` starts them, then `_entities` for 100 records through the gateway against one Get Records call
 * straight to the sink. BENCH_READ_REQUESTS (default 300) measured requests per path, after 30 of warm-up;
 * BENCH_GATEWAY_ENV and BENCH_GATEWAY_ROOT as for the bench.
 */
import { killAllNow, stopAll } from '../children.ts';
import { READ_CELL_DEFAULTS, runReadCell } from '../read-cell.ts';
import { startGateway, startSink } from '../servers.ts';
import { loadSettings } from '../settings.ts';
import { sig } from '../stats.ts';

process.on('exit', killAllNow);
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const settings = loadSettings();
const requests = Number(process.env.BENCH_READ_REQUESTS ?? READ_CELL_DEFAULTS.requests);
if (!Number.isInteger(requests) || requests < 1 || requests > 100_000) throw new Error(`BENCH_READ_REQUESTS: '${process.env.BENCH_READ_REQUESTS}' is not 1..100000`);

const sink = await startSink(settings.root);
const gateway = await startGateway({ root: settings.root, gatewayRoot: settings.gatewayRoot, sinkOrigin: sink.origin, env: settings.gatewayEnv });
for (const child of [sink.child, gateway.child]) {
  child.onUnexpectedDeath((error) => {
    console.error(`read cell: FAILED — ${error.message}`);
    process.exit(1);
  });
}
try {
  const cell = await runReadCell(gateway, sink, { ...READ_CELL_DEFAULTS, requests });
  const ratio = cell.gateway.p50Ms / cell.direct.p50Ms;
  const [fewest, most] = cell.crmCallsPerRequest;
  console.log(`read cell: _entities for ${cell.records} records, ${cell.requests} requests per path, concurrency 1`);
  console.log(`  gateway        p50 ${sig(cell.gateway.p50Ms)} ms · p99 ${sig(cell.gateway.p99Ms)} ms · CRM calls per request ${fewest === most ? fewest : `${fewest}–${most}`}`);
  console.log(`  direct to sink p50 ${sig(cell.direct.p50Ms)} ms · p99 ${sig(cell.direct.p99Ms)} ms (one Get Records call, the same ${cell.records} ids)`);
  console.log(`  gateway, id only (no CRM call) p50 ${sig(cell.keysOnly.p50Ms)} ms · p99 ${sig(cell.keysOnly.p99Ms)} ms`);
  console.log(`  gateway ÷ direct p50 ×${ratio.toFixed(2)} (target ≤ ×1.3: ${ratio <= 1.3 ? 'PASS' : 'MISS'}); exactly 1 CRM call: ${fewest === 1 && most === 1 ? 'PASS' : 'MISS'}`);
} finally {
  await stopAll();
}
