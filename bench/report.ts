/** The one results table, the targets with PASS/MISS, and RESULTS.md around them. */
import { PEERS, type CellOutcome, type PathKind } from './cells.ts';
import type { StartUpOutcome } from './start-up.ts';
import type { ReadCellOutcome } from './read-cell.ts';
import { machineLines, type Machine } from './machine.ts';
import type { Revision } from './revision.ts';
import type { Settings } from './settings.ts';
import { MiB } from './settings.ts';
import { ratio, sig, sizeLabel } from './stats.ts';

export interface Report {
  machine: Machine;
  revision: Revision;
  settings: Settings;
  cells: CellOutcome[];
  /** The read cell: `_entities` for 100 records against one Get Records call straight to the sink. */
  reads?: ReadCellOutcome;
  /** Start-up and idle memory of the gateway (dist/main.js) and each peer. */
  startUp: StartUpOutcome[];
  /** Per path, the packages it is built on and their versions. */
  versions: Record<PathKind, string>;
  durationS: number;
}

export interface Target {
  name: string;
  measured: string;
  /** null: the run did not measure it. */
  pass: boolean | null;
}

const PATH_ORDER: PathKind[] = ['gateway', 'gatewayAt10', 'direct', 'raw', 'yoga', 'apollo', 'multer', 'buffering'];
const ROW_LABELS: Record<PathKind, string> = {
  gateway: 'gateway',
  gatewayAt10: 'gateway, CRM_MAX_CONCURRENCY 10 (its default)',
  direct: 'direct to sink',
  raw: 'raw proxy (floor)',
  yoga: 'Yoga floor',
  apollo: 'Apollo + graphql-upload',
  multer: 'Express + multer',
  buffering: 'Yoga File (buffering)',
};

function find(cells: CellOutcome[], path: PathKind, size: number, concurrency: number, profile: CellOutcome['profile'] = 'loopback'): CellOutcome | undefined {
  return cells.find((c) => c.path === path && c.size === size && c.concurrency === concurrency && !c.memoryRun && c.profile === profile);
}

function times(value: number): string {
  return Number.isFinite(value) ? `×${value.toFixed(2)}` : '—';
}

function row(cell: CellOutcome, cells: CellOutcome[]): string {
  const direct = cell.path === 'direct' || cell.crmAnswerDelayMs > 0 ? undefined : find(cells, 'direct', cell.size, cell.concurrency);
  const vsDirect = direct
    ? [ratio(cell.uploadsPerS, direct.uploadsPerS), ratio(cell.p50Ms, direct.p50Ms), ratio(cell.p99Ms, direct.p99Ms)].map(times).join(' · ')
    : '—';
  const cpu = [cell.cpu.load, cell.cpu.server ?? Number.NaN, cell.cpu.sink, cell.cpu.other].map((v) => (Number.isFinite(v) ? v.toFixed(2) : '—')).join(' · ');
  const label = `${ROW_LABELS[cell.path]}${cell.memoryRun ? ` (memory run${cell.crmAnswerDelayMs > 0 ? `, CRM answers after ${cell.crmAnswerDelayMs} ms` : ''})` : ''}`;
  return [
    sizeLabel(cell.size),
    String(cell.concurrency),
    label,
    cell.windowS.toFixed(1),
    sig(cell.uploadsPerS),
    `${sig(cell.p50Ms)} · ${sig(cell.p99Ms)}`,
    vsDirect,
    cpu,
    cell.serverCpuPerGB === null ? '—' : sig(cell.serverCpuPerGB),
    cell.rssGrowth === null
      ? '—'
      : `+${(cell.rssGrowth / MiB).toFixed(1)}${cell.memoryRun && cell.hwmGrowth !== null ? ` (HWM +${(cell.hwmGrowth / MiB).toFixed(1)})` : ''}`,
    cell.firstByte ? `${sig(cell.firstByte.p50)} · ${sig(cell.firstByte.p99)}` : '—',
  ].join(' | ');
}

/** The loopback table: every path, every size and concurrency, and the memory runs. */
export function renderTable(all: CellOutcome[]): string {
  const cells = all.filter((c) => c.profile === 'loopback');
  const header = [
    'file',
    'conc.',
    'path',
    'window s',
    'uploads/s',
    'latency p50 · p99 ms',
    '÷ direct: uploads/s · p50 · p99',
    'CPU s: load gen · server · sink · other',
    'server CPU s/GB',
    'server RSS growth MiB',
    'CRM first byte p50 · p99 ms',
  ];
  const sorted = [...cells].sort(
    (a, b) =>
      Number(a.memoryRun) - Number(b.memoryRun) ||
      a.crmAnswerDelayMs - b.crmAnswerDelayMs ||
      a.size - b.size ||
      a.concurrency - b.concurrency ||
      PATH_ORDER.indexOf(a.path) - PATH_ORDER.indexOf(b.path),
  );
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 3 ? ':--' : '--:')).join('|')}|`,
    ...sorted.map((cell) => `| ${row(cell, cells)} |`),
  ].join('\n');
}

/** What a perfect streaming forwarder would take on the WAN profile: max(client leg, CRM leg) + the CRM's delay, ms. */
export function idealMs(settings: Settings, bodyBytes: number, fileBytes: number): number {
  const { clientMbps, crmMbps, crmDelayMs } = settings.wan;
  return Math.max((bodyBytes * 8) / (clientMbps * 1_000), (fileBytes * 8) / (crmMbps * 1_000)) + crmDelayMs;
}

function wanCells(report: Report): CellOutcome[] {
  return report.cells.filter((c) => c.profile === 'wan');
}

/** The ideal for a WAN cell, from the GraphQL request body the gateway and the peers were sent. */
function wanIdeal(report: Report, size: number): number {
  const gatewayBody = wanCells(report).find((c) => c.size === size && c.path !== 'direct')?.bodyBytes ?? size;
  return idealMs(report.settings, gatewayBody, size);
}

export function renderWanTable(report: Report): string {
  const header = ['file', 'conc.', 'path', 'uploads', 'latency p50 · p99 ms', 'ideal ms', '÷ ideal: p50 · p99', 'server CPU s/GB'];
  const sorted = [...wanCells(report)].sort(
    (a, b) => a.size - b.size || a.concurrency - b.concurrency || PATH_ORDER.indexOf(a.path) - PATH_ORDER.indexOf(b.path),
  );
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 3 ? ':--' : '--:')).join('|')}|`,
    ...sorted.map((cell) => {
      const ideal = wanIdeal(report, cell.size);
      return `| ${[
        sizeLabel(cell.size),
        String(cell.concurrency),
        ROW_LABELS[cell.path],
        String(cell.completed),
        `${sig(cell.p50Ms)} · ${sig(cell.p99Ms)}`,
        sig(ideal),
        `${times(cell.p50Ms / ideal)} · ${times(cell.p99Ms / ideal)}`,
        cell.serverCpuPerGB === null ? '—' : sig(cell.serverCpuPerGB),
      ].join(' | ')} |`;
    }),
  ].join('\n');
}

function bestPeer(startUp: StartUpOutcome[], pick: (s: StartUpOutcome) => number): StartUpOutcome | undefined {
  return startUp.filter((s) => s.path !== 'gateway').sort((a, b) => pick(a) - pick(b))[0];
}

export function renderStartUp(report: Report): string {
  const { startUp } = report;
  const fastest = bestPeer(startUp, (s) => s.medianStartMs);
  const leanest = bestPeer(startUp, (s) => s.medianIdleRss);
  return [
    '| process | start to first `/health` answer, median ms (each run) | ÷ fastest peer | idle RSS, median MiB | ÷ leanest peer |',
    '|:--|--:|--:|--:|--:|',
    ...startUp.map((s) =>
      [
        s.path === 'gateway' ? 'gateway (`node dist/main.js`, as the image runs it)' : ROW_LABELS[s.path],
        `${s.medianStartMs.toFixed(0)} (${s.startMs.map((v) => v.toFixed(0)).join(', ')})`,
        fastest ? times(s.medianStartMs / fastest.medianStartMs) : '—',
        (s.medianIdleRss / MiB).toFixed(1),
        leanest ? times(s.medianIdleRss / leanest.medianIdleRss) : '—',
      ].join(' | '),
    ).map((line) => `| ${line} |`),
  ].join('\n');
}

/** One row per path, the WAN and loopback figures side by side (the README's table). */
export function renderSummary(report: Report): string {
  const { cells, settings } = report;
  const wanKeys = settings.wan.cells.map((c) => ({ size: c.size, concurrency: c.concurrency }));
  const { size: memSize, concurrency: memConc } = settings.memory;
  const header = [
    'path',
    ...wanKeys.map((k) => `WAN p50 ${sizeLabel(k.size)} × ${k.concurrency}, s (÷ ideal)`),
    ...settings.sizes.map((size) => `loopback CPU s/GB, ${sizeLabel(size)}`),
    `RSS growth ${memConc} × ${sizeLabel(memSize)}, MiB`,
    'start-up ms',
    'idle MiB',
  ];
  const paths: PathKind[] = ['gateway', 'gatewayAt10', 'apollo', 'multer', 'buffering', 'yoga', 'raw', 'direct'];
  const lines = paths.map((path) => {
    const wan = wanKeys.map((k) => {
      const cell = find(cells, path, k.size, k.concurrency, 'wan');
      return cell ? `${(cell.p50Ms / 1000).toFixed(2)} (${times(cell.p50Ms / wanIdeal(report, k.size))})` : '—';
    });
    const cpu = settings.sizes.map((size) => (path === 'direct' ? '—' : sigOrDash(cpuPerGB(cells, path, size))));
    const growth = peakGrowth(cells, path, memSize, memConc);
    const start = report.startUp.find((s) => s.path === path);
    return `| ${[
      ROW_LABELS[path],
      ...wan,
      ...cpu,
      growth === null ? '—' : `+${(growth / MiB).toFixed(0)}`,
      start ? start.medianStartMs.toFixed(0) : '—',
      start ? (start.medianIdleRss / MiB).toFixed(0) : '—',
    ].join(' | ')} |`;
  });
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`,
    ...lines,
    '',
    `Ideal: max(client leg, CRM leg) + ${settings.wan.crmDelayMs} ms: ` +
      wanKeys
        .filter((k, i) => wanKeys.findIndex((o) => o.size === k.size) === i)
        .map((k) => `${sizeLabel(k.size)} ${(wanIdeal(report, k.size) / 1000).toFixed(2)} s`)
        .join(', ') +
      '. Versions: ' +
      paths
        .filter((p) => report.versions[p])
        .map((p) => `${ROW_LABELS[p]}: ${report.versions[p]}`)
        .join('; ') +
      '.',
  ].join('\n');
}

function sigOrDash(value: number): string {
  return Number.isFinite(value) ? sig(value) : '—';
}

/** The memory figure the targets use: the larger of the sampled peak and VmHWM over the idle baseline, worst of a path's memory runs. */
function peakGrowth(cells: CellOutcome[], path: PathKind, size: number, concurrency: number): number | null {
  const growths = cells
    .filter((c) => c.memoryRun && c.path === path && c.size === size && c.concurrency === concurrency && c.rssGrowth !== null)
    .map((c) => Math.max(c.rssGrowth!, c.hwmGrowth ?? 0));
  return growths.length > 0 ? Math.max(...growths) : null;
}

function cpuPerGB(cells: CellOutcome[], path: PathKind, size: number): number {
  // Loopback cells only: a paced WAN cell spends its CPU waiting on the links, not forwarding.
  const matching = cells.filter((c) => c.path === path && c.size === size && !c.memoryRun && c.profile === 'loopback' && c.cpu.server !== null);
  const cpu = matching.reduce((sum, c) => sum + (c.cpu.server ?? 0), 0);
  const gb = matching.reduce((sum, c) => sum + (c.completed * c.size) / 1e9, 0);
  return gb > 0 ? cpu / gb : Number.NaN;
}

export function evaluateTargets(report: Report): Target[] {
  const { cells, settings } = report;
  const targets: Target[] = [];

  // WAN: the gateway near the ideal, and quicker than every peer.
  for (const { size, concurrency } of settings.wan.cells) {
    const gateway = find(cells, 'gateway', size, concurrency, 'wan');
    const ideal = wanIdeal(report, size);
    const peers = PEERS.map((p) => find(cells, p, size, concurrency, 'wan')).filter((c): c is CellOutcome => c !== undefined);
    targets.push({
      name: `WAN, ${sizeLabel(size)} × ${concurrency}: gateway p50 ≤ 1.05 × ideal (${sig(ideal)} ms)`,
      measured: gateway ? `${times(gateway.p50Ms / ideal)} (${sig(gateway.p50Ms)} ms)` : 'not measured',
      pass: gateway ? gateway.p50Ms <= 1.05 * ideal : null,
    });
    targets.push({
      name: `WAN, ${sizeLabel(size)} × ${concurrency}: gateway p50 below every peer's`,
      measured: gateway && peers.length ? `${sig(gateway.p50Ms)} ms; ${peers.map((p) => `${ROW_LABELS[p.path]} ${sig(p.p50Ms)} ms`).join(', ')}` : 'not measured',
      pass: gateway && peers.length ? peers.every((p) => gateway.p50Ms < p.p50Ms) : null,
    });
  }

  // Loopback CPU: below every peer's at every size; near the Yoga floor at the small sizes.
  for (const size of settings.sizes) {
    const gateway = cpuPerGB(cells, 'gateway', size);
    const peers = PEERS.map((p) => ({ path: p, cpu: cpuPerGB(cells, p, size) })).filter((p) => Number.isFinite(p.cpu));
    const best = peers.length ? Math.min(...peers.map((p) => p.cpu)) : Number.NaN;
    targets.push({
      name: `loopback, ${sizeLabel(size)} (all concurrencies): gateway CPU per GB below every peer's`,
      measured: Number.isFinite(gateway) && peers.length
        ? `${sig(gateway)} s/GB, ${times(gateway / best)} the best peer's; ${peers.map((p) => `${ROW_LABELS[p.path]} ${sig(p.cpu)}`).join(', ')}`
        : 'not measured',
      pass: Number.isFinite(gateway) && peers.length ? gateway < best : null,
    });
    if (size <= 1.5 * MiB) {
      const yoga = cpuPerGB(cells, 'yoga', size);
      const raw = cpuPerGB(cells, 'raw', size);
      targets.push({
        name: `loopback, ${sizeLabel(size)}: gateway CPU per GB ≤ 1.15 × the Yoga floor's`,
        measured: Number.isFinite(gateway) && Number.isFinite(yoga)
          ? `${times(gateway / yoga)} (${sig(gateway)} vs ${sig(yoga)} s/GB; raw proxy ${sigOrDash(raw)})`
          : 'not measured',
        pass: Number.isFinite(gateway) && Number.isFinite(yoga) ? gateway <= 1.15 * yoga : null,
      });
    }
  }

  // Memory: every memory run of the gateway within 64 MiB, and below every peer's in the same run.
  const { size, concurrency } = settings.memory;
  const load = `${concurrency} × ${sizeLabel(size)}`;
  for (const delay of settings.memory.crmAnswerDelaysMs) {
    const growthOf = (path: PathKind): number | null => {
      const cell = cells.find((c) => c.memoryRun && c.path === path && c.crmAnswerDelayMs === delay && c.rssGrowth !== null);
      return cell ? Math.max(cell.rssGrowth!, cell.hwmGrowth ?? 0) : null;
    };
    const gateway = growthOf('gateway');
    const peers = PEERS.map((p) => ({ path: p, growth: growthOf(p) })).filter((p): p is { path: (typeof PEERS)[number]; growth: number } => p.growth !== null);
    const run = `${load}, CRM answers ${delay > 0 ? `after ${delay} ms` : 'at once'}`;
    targets.push({
      name: `memory growth at ${run}: gateway ≤ 64 MiB`,
      measured: gateway !== null ? `+${(gateway / MiB).toFixed(1)} MiB` : 'not measured',
      pass: gateway !== null ? gateway <= 64 * MiB : null,
    });
    targets.push({
      name: `memory growth at ${run}: gateway below every peer's`,
      measured: gateway !== null && peers.length
        ? `+${(gateway / MiB).toFixed(1)} MiB; ${peers.map((p) => `${ROW_LABELS[p.path]} +${(p.growth / MiB).toFixed(1)}`).join(', ')}`
        : 'not measured',
      pass: gateway !== null && peers.length ? peers.every((p) => gateway < p.growth) : null,
    });
  }

  for (const fileSize of settings.sizes) {
    const cell = find(cells, 'gateway', fileSize, 1);
    const fb = cell?.firstByte;
    targets.push({
      name: `first file byte at the CRM ≤ 10 ms after the client's (p99), loopback, ${sizeLabel(fileSize)} at concurrency 1`,
      measured: fb ? `p50 ${sig(fb.p50)} ms · p99 ${sig(fb.p99)} ms (${fb.n} uploads)` : 'not measured',
      pass: fb ? fb.p99 <= 10 : null,
    });
  }

  // Start-up and idle: within 1.2 × the best peer's.
  const gatewayStart = report.startUp.find((s) => s.path === 'gateway');
  const fastest = bestPeer(report.startUp, (s) => s.medianStartMs);
  const leanest = bestPeer(report.startUp, (s) => s.medianIdleRss);
  targets.push({
    name: 'start-up: gateway (dist/main.js) to its first /health answer ≤ 1.2 × the fastest peer\'s (medians)',
    measured: gatewayStart && fastest
      ? `${times(gatewayStart.medianStartMs / fastest.medianStartMs)} (${gatewayStart.medianStartMs.toFixed(0)} ms vs ${ROW_LABELS[fastest.path]} ${fastest.medianStartMs.toFixed(0)} ms)`
      : 'not measured',
    pass: gatewayStart && fastest ? gatewayStart.medianStartMs <= 1.2 * fastest.medianStartMs : null,
  });
  targets.push({
    name: 'idle: gateway resident memory ≤ 1.2 × the leanest peer\'s (medians)',
    measured: gatewayStart && leanest
      ? `${times(gatewayStart.medianIdleRss / leanest.medianIdleRss)} (${(gatewayStart.medianIdleRss / MiB).toFixed(1)} MiB vs ${ROW_LABELS[leanest.path]} ${(leanest.medianIdleRss / MiB).toFixed(1)} MiB)`
      : 'not measured',
    pass: gatewayStart && leanest ? gatewayStart.medianIdleRss <= 1.2 * leanest.medianIdleRss : null,
  });

  const { reads } = report;
  const readRatio = reads ? ratio(reads.gateway.p50Ms, reads.direct.p50Ms) : Number.NaN;
  targets.push({
    name: `read: p50 of \`_entities\` for ${reads?.records ?? 100} records through the gateway ≤ 1.3 × one Get Records call straight to the sink`,
    measured: reads
      ? `${times(readRatio)} (${sig(reads.gateway.p50Ms)} ms vs ${sig(reads.direct.p50Ms)} ms; the same \`_entities\` asking only for \`id\`, no CRM call: ${sig(reads.keysOnly.p50Ms)} ms)`
      : 'not measured',
    pass: reads ? readRatio <= 1.3 : null,
  });
  targets.push({
    name: `read: exactly 1 CRM call for \`_entities\` of ${reads?.records ?? 100} records`,
    measured: reads ? `${reads.crmCallsPerRequest[0]}–${reads.crmCallsPerRequest[1]} Get Records calls per request over ${reads.requests} requests` : 'not measured',
    pass: reads ? reads.crmCallsPerRequest[0] === 1 && reads.crmCallsPerRequest[1] === 1 : null,
  });
  return targets;
}

/** The read cell as a small table of its own. */
export function renderReads(reads: ReadCellOutcome): string {
  return [
    `| path (\`_entities\` for ${reads.records} records, concurrency 1, ${reads.requests} requests each) | latency p50 · p99 ms | CRM calls per request |`,
    '|:--|--:|--:|',
    `| gateway, \`photo { version url }\` | ${sig(reads.gateway.p50Ms)} · ${sig(reads.gateway.p99Ms)} | ${reads.crmCallsPerRequest[0]}–${reads.crmCallsPerRequest[1]} |`,
    `| gateway, \`id\` only | ${sig(reads.keysOnly.p50Ms)} · ${sig(reads.keysOnly.p99Ms)} | 0 |`,
    `| one Get Records call straight to the sink | ${sig(reads.direct.p50Ms)} · ${sig(reads.direct.p99Ms)} | 1 |`,
  ].join('\n');
}

export function renderTargets(targets: Target[]): string {
  return targets
    .map((t) => `- **${t.pass === null ? 'N/A' : t.pass ? 'PASS' : 'MISS'}** — ${t.name}: ${t.measured}`)
    .join('\n');
}

function otherLoad(cells: CellOutcome[]): string {
  const other = cells.reduce((sum, c) => sum + c.cpu.other, 0);
  const seconds = cells.reduce((sum, c) => sum + c.windowS, 0);
  const cores = seconds > 0 ? other / seconds : 0;
  const worst = Math.max(0, ...cells.map((c) => (c.windowS > 0 ? c.cpu.other / c.windowS : 0)));
  return `on average ${cores.toFixed(2)} cores (worst row ${worst.toFixed(2)} cores)`;
}

export function renderMarkdown(report: Report, targets: Target[], notes: string[], chartFile: string): string {
  const { settings } = report;
  const { wan } = settings;
  return [
    '# Benchmark: record-photo uploads through the gateway and the peers',
    '',
    `\`npm run bench\`${settings.quick ? ' --quick (a smoke run: fewer sizes, few uploads, short windows — not the reference run; targets not enforced)' : ''}, ` +
      `${report.durationS.toFixed(0)} s wall time.`,
    '',
    '## Machine',
    '',
    ...machineLines(report.machine),
    '- Every process — load generator, gateway (or a peer or floor), CRM sink, and the idle bench ' +
      `orchestrator — runs on this machine and shares its ${report.machine.cores} cores; traffic is on loopback. ` +
      'Absolute throughput is therefore bounded by the sum of all processes\' CPU, not by the gateway alone.',
    `- Gateway: \`node src/main.ts\`${report.revision.gatewayRoot === settings.root ? '' : ` from ${report.revision.gatewayRoot} (BENCH_GATEWAY_ROOT)`} ` +
      `at commit ${report.revision.commit}${report.revision.srcDirty ? ' (with uncommitted changes in src/)' : ''}, ` +
      `CRM limits ${report.revision.gatewayLimits}${Object.keys(settings.gatewayEnv).length ? `, extra env ${JSON.stringify(settings.gatewayEnv)}` : ' (its defaults)'}; ` +
      '`NODE_ENV=production` as in the container image (also for the peers and floors), and the image\'s `NODE_OPTIONS=--max-semi-space-size=2` for the gateway and the Yoga floor. ' +
      'Start-up and idle memory: the compiled `node dist/main.js`, as the image runs it.',
    `- Other load: processes outside the bench (e.g. other developers' test runs) used ${otherLoad(report.cells)} of the machine during the measured windows (column \`other\`); ` +
      'rows with a large `other` figure are less reliable.',
    '',
    '## Summary: the gateway and the peers side by side',
    '',
    renderSummary(report),
    '',
    `![p50 against file size, WAN profile](${chartFile})`,
    '',
    `## WAN profile: client ${wan.clientMbps} Mbit/s, CRM ${wan.crmMbps} Mbit/s and ${wan.crmDelayMs} ms`,
    '',
    renderWanTable(report),
    '',
    '## Loopback profile',
    '',
    renderTable(report.cells),
    '',
    '## Start-up and idle',
    '',
    renderStartUp(report),
    '',
    ...(report.reads ? ['## Reads', '', renderReads(report.reads), ''] : []),
    `## Targets${settings.quick ? ' (quick run: shown, not enforced)' : ''}`,
    '',
    renderTargets(targets),
    '',
    '## How to read it',
    '',
    ...notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}
