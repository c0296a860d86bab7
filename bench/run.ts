/**
 * `npm run bench`: starts the CRM sink, the load generator, the gateway (`node src/main.ts`), the raw proxy, the
 * Yoga floor and the buffering baseline as separate processes on loopback, measures every cell, and prints the one
 * table (also written to bench/RESULTS.md). Every child is killed on any exit path; a child that dies fails the run.
 * The one-off tools that reuse these parts (profiling, A/B, memory probe) are in bench/tools/.
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { renderWanChart } from './chart.ts';
import { runCell, PATH_LABELS, type CellOutcome, type CellRequest, type NetworkProfile, type PathKind, type Rig } from './cells.ts';
import { Child, ChildDiedError, killAllNow, stopAll } from './children.ts';
import { describeMachine } from './machine.ts';
import { runReadCell } from './read-cell.ts';
import { describeRevision } from './revision.ts';
import { idleRss } from './proc.ts';
import { evaluateTargets, renderMarkdown, renderStartUp, renderSummary, renderTable, renderTargets, renderWanTable, type Report } from './report.ts';
import { startGateway, startLoadGenerator, startPeerOrFloor, startSink, type Server } from './servers.ts';
import { ensureBuilt, measureStartUp, START_UP_TARGETS } from './start-up.ts';
import { pathVersions } from './versions.ts';
import { loadSettings, SettingsError, type Settings } from './settings.ts';
import { sizeLabel, sig } from './stats.ts';

/** The paths of the loopback cells, in the order each cell runs them; the WAN cells and memory runs use a subset. */
const MEASURED_PATHS = ['gateway', 'direct', 'raw', 'yoga', 'apollo', 'multer', 'buffering'] as const;
type MeasuredPath = (typeof MEASURED_PATHS)[number];
const WAN_PATHS = ['gateway', 'gatewayAt10', 'direct', 'apollo', 'multer', 'buffering'] as const satisfies readonly PathKind[];
/**
 * The WAN sink stands for a CRM that takes every upload the load sends at once, as the peers assume: an edition whose
 * limit is 20 (README, "Running several replicas": size CRM_MAX_CONCURRENCY for the edition). The gateway is set up
 * for it there; `gatewayAt10` is the same gateway at its default, for what the cap costs when the CRM allows more.
 */
const WAN_CRM_MAX_CONCURRENCY = 20;
/** The gateway's own default (src/config.ts). */
const DEFAULT_CRM_MAX_CONCURRENCY = 10;
const MEMORY_PATHS = ['gateway', 'apollo', 'multer', 'buffering'] as const satisfies readonly PathKind[];

const startedAt = performance.now();
let failDeath: (error: Error) => void = () => {};
const anyDeath = new Promise<never>((_, reject) => {
  failDeath = reject;
});
anyDeath.catch(() => {}); // raced below; never unhandled on its own

function watch<T extends { child: Child } | Child>(started: T): T {
  const child = started instanceof Child ? started : started.child;
  child.onUnexpectedDeath(failDeath);
  return started;
}

function progress(message: string): void {
  const elapsed = ((performance.now() - startedAt) / 1000).toFixed(0).padStart(3);
  process.stderr.write(`[bench ${elapsed}s] ${message}\n`);
}

function describe(cell: CellOutcome): string {
  const fb = cell.firstByte ? ` · CRM first byte p50 ${sig(cell.firstByte.p50)} ms` : '';
  const rss = cell.rssGrowth === null ? '' : ` · RSS +${(cell.rssGrowth / 1024 / 1024).toFixed(1)} MiB`;
  const cpu = `CPU load ${cell.cpu.load.toFixed(2)} s, server ${cell.cpu.server?.toFixed(2) ?? '—'} s, sink ${cell.cpu.sink.toFixed(2)} s, other ${cell.cpu.other.toFixed(2)} s`;
  return `${sig(cell.uploadsPerS)} uploads/s · p50 ${sig(cell.p50Ms)} ms · p99 ${sig(cell.p99Ms)} ms · ${cpu}${rss}${fb}`;
}

async function bench(settings: Settings): Promise<Report> {
  const machine = describeMachine();
  const { root } = settings;
  const revision = describeRevision(settings.gatewayRoot, settings.gatewayEnv);
  let tag = 0;
  progress(`starting the CRM sink and the load generator (${settings.quick ? 'quick run' : 'full run'})`);
  const sink = watch(await startSink(root));
  const load = watch(await startLoadGenerator(root));
  const rig: Rig = { load, sink, nextTag: () => ++tag };
  const sizes = [...new Set([...settings.sizes, ...settings.wan.cells.map((c) => c.size), settings.memory.size, settings.memory.warmSize])];
  await load.call('prepare', { sizes });

  // Start-up and idle first, while nothing else of the bench runs: dist/main.js as the image runs it, and each peer.
  progress(`compiling the gateway to dist/ (npm run build) if src/ changed: ${ensureBuilt(root)}`);
  const startUp = await measureStartUp(root, sink.origin, settings.startUpRuns, START_UP_TARGETS);
  for (const s of startUp) {
    progress(`start-up ${PATH_LABELS[s.path]}: median ${s.medianStartMs.toFixed(0)} ms to /health, idle RSS ${(s.medianIdleRss / 1024 / 1024).toFixed(1)} MiB`);
  }

  progress(`starting the gateway (src/main.ts), the floors and the peers, all pointed at the sink ${sink.origin}`);
  const gatewayOptions = { root, gatewayRoot: settings.gatewayRoot, sinkOrigin: sink.origin, env: settings.gatewayEnv };
  const servers = { direct: sink, gateway: watch(await startGateway(gatewayOptions)) } as Record<MeasuredPath, Server>;
  for (const path of MEASURED_PATHS) {
    if (path !== 'gateway' && path !== 'direct') servers[path] = watch(await startPeerOrFloor(path, root, sink.origin));
  }

  // Every path once per size before measuring: the answers are checked, and the sink must get every file byte.
  for (const size of settings.sizes) {
    for (const path of MEASURED_PATHS) {
      await runCell(rig, one(path, servers[path], size, settings));
    }
  }

  const cells: CellOutcome[] = [];
  const total = settings.sizes.length * settings.concurrency.length * MEASURED_PATHS.length;
  for (const size of settings.sizes) {
    for (const concurrency of settings.concurrency) {
      for (const path of MEASURED_PATHS) {
        const cell = await runCell(rig, {
          path,
          server: servers[path],
          size,
          concurrency,
          mode: {
            kind: 'window',
            warmupCompletions: concurrency,
            warmupMs: settings.warmupMs,
            windowMs: settings.windowMs,
            minWindowCompletions: Math.max(2 * concurrency, settings.quick ? 10 : 30),
          },
          measureFirstByte: concurrency === 1,
          timeoutMs: settings.cellTimeoutMs,
        });
        cells.push(cell);
        progress(`[loopback ${cells.length}/${total}] ${sizeLabel(size)} × ${concurrency} ${PATH_LABELS[path]}: ${describe(cell)}`);
      }
    }
  }
  // Reads: `_entities` for 100 records through the gateway against one Get Records call straight to the sink.
  const reads = await runReadCell(servers.gateway, sink, settings.quick ? { records: 100, warmup: 5, requests: 20 } : undefined);
  progress(
    `read cell: _entities for ${reads.records} records p50 ${sig(reads.gateway.p50Ms)} ms (id only ${sig(reads.keysOnly.p50Ms)} ms), ` +
      `Get Records direct p50 ${sig(reads.direct.p50Ms)} ms, CRM calls per request ${reads.crmCallsPerRequest.join('–')}`,
  );

  // WAN: each upload sent at the client's link rate, read by a CRM at its own rate that answers after a delay.
  const { wan } = settings;
  const profile: NetworkProfile = { name: 'wan', clientMbps: wan.clientMbps, crmMbps: wan.crmMbps, crmDelayMs: wan.crmDelayMs };
  let wanDone = 0;
  const sizedGateway = watch(await startGateway({ ...gatewayOptions, env: { ...gatewayOptions.env, CRM_MAX_CONCURRENCY: String(WAN_CRM_MAX_CONCURRENCY) } }));
  // Warmed as the loopback cells warmed the others: a fresh process's first uploads load code and open connections.
  for (const size of new Set(wan.cells.map((c) => c.size))) {
    await runCell(rig, { path: 'gateway', server: sizedGateway, size, concurrency: 4, mode: { kind: 'count', requests: 8 }, measureFirstByte: false, timeoutMs: settings.cellTimeoutMs });
  }
  const wanServers: Record<(typeof WAN_PATHS)[number], Server> = { ...servers, gateway: sizedGateway, gatewayAt10: servers.gateway };
  // Where the load stays within the default cap it makes no difference: the gateway at its default runs only past it.
  const wanRuns = wan.cells.flatMap((cell) =>
    WAN_PATHS.filter((path) => path !== 'gatewayAt10' || cell.concurrency > DEFAULT_CRM_MAX_CONCURRENCY).map((path) => ({ ...cell, path })),
  );
  for (const { size, concurrency, requests, path } of wanRuns) {
    const cell = await runCell(rig, {
      path,
      server: wanServers[path],
      size,
      concurrency,
      mode: { kind: 'count', requests },
      measureFirstByte: false,
      timeoutMs: settings.cellTimeoutMs,
      profile,
    });
    cells.push(cell);
    progress(`[WAN ${++wanDone}/${wanRuns.length}] ${sizeLabel(size)} × ${concurrency} ${PATH_LABELS[path]}: ${describe(cell)}`);
  }
  await sizedGateway.child.stop();
  for (const path of MEASURED_PATHS) if (path !== 'direct') await servers[path].child.stop();

  // Memory: each forwarder fresh, warmed, idle, then the heavy load while its RSS is sampled every 20 ms.
  // With a slow CRM most uploads wait in the gateway's queue, longer than its default 10 s on a slow machine:
  // the memory run is about what they hold while they wait, not about refusing them.
  const patientGateway = { ...gatewayOptions, env: { CRM_QUEUE_TIMEOUT_MS: '120000', ...settings.gatewayEnv } };
  const start = (path: (typeof MEMORY_PATHS)[number], crmAnswerDelayMs: number): Promise<Server> =>
    path === 'gateway' ? startGateway(crmAnswerDelayMs > 0 ? patientGateway : gatewayOptions) : startPeerOrFloor(path, root, sink.origin);
  const { memory } = settings;
  for (const crmAnswerDelayMs of memory.crmAnswerDelaysMs) for (const path of MEMORY_PATHS) {
    const server = watch(await start(path, crmAnswerDelayMs));
    await runCell(rig, {
      path,
      server,
      size: memory.warmSize,
      concurrency: 4,
      mode: { kind: 'count', requests: 16 },
      measureFirstByte: false,
      timeoutMs: settings.cellTimeoutMs,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await idleRss(server.child.pid); // settle
    const cell = await runCell(rig, {
      path,
      server,
      size: memory.size,
      concurrency: memory.concurrency,
      mode: { kind: 'count', requests: memory.requests },
      measureFirstByte: false,
      timeoutMs: settings.cellTimeoutMs,
      memoryRun: true,
      crmAnswerDelayMs,
    });
    cells.push(cell);
    progress(`memory run ${memory.concurrency} × ${sizeLabel(memory.size)} ${PATH_LABELS[path]}, CRM answers after ${crmAnswerDelayMs} ms: ${describe(cell)}`);
    await server.child.stop();
  }
  await load.stop();
  await sink.child.stop();
  return { machine, revision, settings, cells, reads, startUp, versions: pathVersions(root), durationS: (performance.now() - startedAt) / 1000 };
}

function one(path: MeasuredPath, server: Server, size: number, settings: Settings): CellRequest {
  return { path, server, size, concurrency: 1, mode: { kind: 'count', requests: 1 }, measureFirstByte: true, timeoutMs: settings.cellTimeoutMs };
}

function notes(settings: Settings): string[] {
  const { memory, wan } = settings;
  return [
    'Peers — what a team would run instead, each built in `bench/peers/` or `bench/`, sent the same GraphQL multipart request, ' +
      'checked for the same answer, forwarding to the same sink: **Apollo + graphql-upload** (`bench/peers/apollo-upload.ts`: Express 5, ' +
      'Apollo Server 5 through `@as-integrations/express5`, `graphql-upload`\'s Express middleware spooling each file through `fs-capacitor` ' +
      'to a temporary file, read back as a stream into an undici request); **Express + multer** (`bench/peers/multer-rest.ts`: the hand-written ' +
      'REST proxy, multer\'s memory storage, then undici `fetch` + `FormData`; no GraphQL engine, it answers the same JSON); ' +
      '**Yoga File** (`bench/buffering-gateway.ts`: graphql-yoga\'s built-in multipart `File` parsing, forwarding with Yoga\'s own ' +
      '`fetch` + `FormData`). Floors, not peers: the raw proxy and the Yoga floor (below). The summary names each one\'s package versions.',
    `WAN profile: each upload sent at ${wan.clientMbps} Mbit/s by the load generator (every write handed over when it would have ` +
      `finished crossing the link; BENCH_CLIENT_MBPS), read by the sink at ${wan.crmMbps} Mbit/s (it pauses the request between reads; ` +
      `BENCH_CRM_MBPS) and answered ${wan.crmDelayMs} ms after the last byte (BENCH_CRM_DELAY_MS). Each upload has its own client link and ` +
      'CRM leg. `ideal`: what a perfect streaming forwarder would take, max(client leg, CRM leg) + the delay, from the request body\'s and ' +
      'the file\'s sizes; a buffering forwarder pays both legs in full. Each WAN cell is a fixed number of uploads (`uploads`), every worker\'s first ' +
      'included: the processes are warm from the loopback cells. The peers send the CRM every upload at once; the gateway caps what it sends ' +
      `at \`CRM_MAX_CONCURRENCY\`, to be sized for the CRM edition's limit (10 to 25 calls at once). Here the sink stands for an edition that ` +
      `takes ${WAN_CRM_MAX_CONCURRENCY}, and the \`gateway\` row is a gateway set up for it (\`CRM_MAX_CONCURRENCY=${WAN_CRM_MAX_CONCURRENCY}\`); the row ` +
      `below it, at concurrency 16, is the same gateway at its default of ${DEFAULT_CRM_MAX_CONCURRENCY}, where six of sixteen uploads wait for a slot ` +
      '(what the cap costs when the CRM would take more; against a CRM that takes only 10, the peers would get 429s instead).',
    'Start-up and idle: each target started fresh as a plain process, one at a time, alternated, ' +
      `${settings.startUpRuns} times each: ms from the fork to the first 200 from \`GET /health\` (polled every 5 ms), and the median VmRSS ` +
      'over 200 ms, 0.5 s after that answer. The gateway runs `node dist/main.js` (bundled by `npm run build`\'s server step, `src/server-build.ts`, which the bench runs when src/ is ' +
      'newer than dist/) with the image\'s environment (`NODE_ENV=production`, `GRAPHIQL=false`, `NODE_OPTIONS=--max-semi-space-size=2`); ' +
      'the peers run their `.ts` file with Node\'s type stripping and `NODE_ENV=production`.',
    'Sizes are binary: 100 KB = 100 KiB, 1 MB = 1 MiB, 9 MB = 9 MiB; each file is a valid PNG padded to size with a private chunk. ' +
      'The same file bytes go to every path; to the gateway, the peers and the floors as the GraphQL multipart ' +
      'request (`operations`, `map`, file; `apollo-require-preflight: true`, `Authorization: Zoho-oauthtoken bench-token`), ' +
      'straight to the sink as a plain multipart with field `file`.',
    'Load: closed loop, `conc.` workers each with its own keep-alive connection (undici Pool), bodies streamed in 64 KiB writes ' +
      'with `content-length`. A cell warms up (one completion per worker and ≥ ' +
      `${settings.warmupMs} ms), then measures for ${settings.windowMs / 1000} s (longer until ≥ max(2 × conc., ${settings.quick ? 10 : 30}) uploads complete); ` +
      '`window s` is that span. Latency is from the request\'s start to the last byte of the answer. Every answer is checked ' +
      '(the gateway\'s must be `UploadRecordPhotoSuccess` with the exact `byteSize`), and the sink checks every upload arrived with exactly the file\'s bytes.',
    '`÷ direct` (loopback): the row divided by the direct-to-sink row with the same size and concurrency. On loopback the sink swallows ' +
      'a 9 MB body in a few ms, so these ratios measure loopback, not what a user waits for: the WAN profile does.',
    'CPU s: user + system seconds over the window, from /proc/<pid>/stat (10 ms ticks), for the load generator, the server ' +
      '(gateway, peer or floor; — on the direct path, where the sink is the server), the sink, and `other`: ' +
      'every process on the machine outside the bench (machine busy time from /proc/stat minus the bench\'s processes). ' +
      '`server CPU s/GB` = server CPU seconds per 10⁹ file bytes forwarded.',
    '`server RSS growth`: the largest VmRSS sampled every 20 ms during the cell, minus the median idle VmRSS just before it. ' +
      `The \`memory run\` rows each use a fresh process (warmed with 16 × ${sizeLabel(memory.warmSize)} uploads, then idle) ` +
      `and ${memory.requests} uploads of ${sizeLabel(memory.size)} at concurrency ${memory.concurrency}; HWM is VmHWM after the run minus the same ` +
      'baseline (the kernel\'s own peak, which sampling cannot miss); the memory targets use the larger of the two. ' +
      `The gateway and each peer have ${memory.crmAnswerDelaysMs.length > 1 ? 'one memory run with a sink that answers as soon as the body is in, and one' : 'one memory run'} with a sink that waits ${memory.crmAnswerDelaysMs.at(-1)} ms before answering, ` +
      'as a real CRM takes a while to store a photo: while it waits, every upload in flight has fully arrived, so a buffering server holds all of them at once ' +
      '(the streaming ones hold only the chunks in flight; Apollo + graphql-upload holds them on disk, in temporary files). The gateway sends at most `CRM_MAX_CONCURRENCY` (10) uploads to the CRM at once and holds the rest ' +
      'paused in its queue, so its run with the slow CRM is slow by design (for that run its queue wait is raised to 120 s, ' +
      'so nothing is refused). ' +
      'The other rows\' growth is over an already-warm process whose RSS earlier cells may already have raised.',
    '`CRM first byte`: at concurrency 1, the sink\'s arrival time of the first byte of the file part minus the load generator\'s ' +
      'time just before it handed the first file byte to its socket — both `performance.timeOrigin + performance.now()` on this machine.',
    'Raw proxy (`bench/raw-proxy.ts`): `pipeline(req, undiciPool.pipeline(...), res)` — no parsing; the floor for any Node forwarder. ' +
      'Yoga floor (`bench/yoga-forwarder.ts`): the least code that does the gateway\'s job on its stack — graphql-yoga, graphql-upload-minimal ' +
      'streaming the file into an undici request, the same `NODE_OPTIONS` as the gateway — with no sniffing, limits, timeouts or queue: ' +
      'what it costs over the raw proxy is the stack\'s, what the gateway costs over it is the gateway\'s own code. ' +
      'Yoga File (`bench/buffering-gateway.ts`, the buffering peer) forwards with Yoga\'s own `fetch` + `FormData` because the global ones refuse Yoga\'s File class.',
  ];
}

let shuttingDown = false;
async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    await stopAll(3_000).catch(() => {});
  }
  process.exit(code);
}

process.on('exit', killAllNow);
process.on('SIGINT', () => {
  process.stderr.write('\nbench: interrupted; stopping every child process\n');
  void shutdown(130);
});
process.on('SIGTERM', () => void shutdown(143));
process.on('uncaughtException', (error) => {
  process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
  void shutdown(1);
});

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`bench: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`the run took longer than ${settings.deadlineMs / 1000} s (BENCH_DEADLINE_S)`)), settings.deadlineMs).unref(),
  );
  try {
    const report = await Promise.race([bench(settings), anyDeath, deadline]);
    const targets = evaluateTargets(report);
    // The chart beside the report: RESULTS.md → RESULTS-wan-p50.svg.
    const chartFile = settings.outFile.replace(/\.md$/, '') + '-wan-p50.svg';
    writeFileSync(chartFile, renderWanChart(report));
    writeFileSync(settings.outFile, renderMarkdown(report, targets, notes(settings), basename(chartFile)));
    process.stdout.write(
      `${renderSummary(report)}\n\n${renderWanTable(report)}\n\n${renderTable(report.cells)}\n\n${renderStartUp(report)}\n\n` +
        `${renderTargets(targets)}${settings.quick ? '\n(quick run: targets shown, not enforced)' : ''}\n\n`,
    );
    progress(`done in ${report.durationS.toFixed(0)} s; written to ${settings.outFile}`);
    await shutdown(0);
  } catch (error) {
    if (shuttingDown) return; // interrupted: the signal handler is already stopping everything
    const message = error instanceof ChildDiedError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`\nbench: FAILED — ${message}\n`);
    await shutdown(1);
  }
}

await main();
