/** The one results table, the targets with PASS/MISS, and RESULTS.md around them. */
import type { CellOutcome, PathKind } from './cells.ts';
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
  durationS: number;
}

export interface Target {
  name: string;
  measured: string;
  /** null: the run did not measure it. */
  pass: boolean | null;
}

const PATH_ORDER: PathKind[] = ['gateway', 'direct', 'raw', 'yoga', 'buffering'];
const ROW_LABELS: Record<PathKind, string> = {
  gateway: 'gateway',
  direct: 'direct to sink',
  raw: 'raw proxy',
  yoga: 'Yoga floor',
  buffering: 'buffering baseline',
};

function find(cells: CellOutcome[], path: PathKind, size: number, concurrency: number): CellOutcome | undefined {
  return cells.find((c) => c.path === path && c.size === size && c.concurrency === concurrency && !c.memoryRun);
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

export function renderTable(cells: CellOutcome[]): string {
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

/** The memory figure the targets use: the larger of the sampled peak and VmHWM over the idle baseline, worst of a path's memory runs. */
function peakGrowth(cells: CellOutcome[], path: PathKind, size: number, concurrency: number): number | null {
  const growths = cells
    .filter((c) => c.memoryRun && c.path === path && c.size === size && c.concurrency === concurrency && c.rssGrowth !== null)
    .map((c) => Math.max(c.rssGrowth!, c.hwmGrowth ?? 0));
  return growths.length > 0 ? Math.max(...growths) : null;
}

function cpuPerGB(cells: CellOutcome[], path: PathKind, size: number): number {
  const matching = cells.filter((c) => c.path === path && c.size === size && !c.memoryRun && c.cpu.server !== null);
  const cpu = matching.reduce((sum, c) => sum + (c.cpu.server ?? 0), 0);
  const gb = matching.reduce((sum, c) => sum + (c.completed * c.size) / 1e9, 0);
  return gb > 0 ? cpu / gb : Number.NaN;
}

export function evaluateTargets(report: Report): Target[] {
  const { cells, settings } = report;
  const targets: Target[] = [];
  for (const size of [MiB, 9 * MiB]) {
    const gateway = find(cells, 'gateway', size, 1);
    const direct = find(cells, 'direct', size, 1);
    const raw = find(cells, 'raw', size, 1);
    const yoga = find(cells, 'yoga', size, 1);
    const value = gateway && direct ? ratio(gateway.p50Ms, direct.p50Ms) : Number.NaN;
    const floor =
      (raw && direct ? `; the raw proxy, the floor for any Node forwarder: ${times(ratio(raw.p50Ms, direct.p50Ms))}` : '') +
      (yoga && direct ? `; the Yoga floor: ${times(ratio(yoga.p50Ms, direct.p50Ms))}` : '');
    targets.push({
      name: `p50 latency through the gateway ≤ 1.15 × direct, ${sizeLabel(size)} at concurrency 1`,
      measured: gateway && direct ? `${times(value)} (${sig(gateway.p50Ms)} ms vs ${sig(direct.p50Ms)} ms${floor})` : 'not measured',
      pass: gateway && direct ? value <= 1.15 : null,
    });
  }
  for (const size of settings.sizes) {
    const gateway = cpuPerGB(cells, 'gateway', size);
    const raw = cpuPerGB(cells, 'raw', size);
    const yoga = cpuPerGB(cells, 'yoga', size);
    const value = ratio(gateway, raw);
    const floor = Number.isFinite(yoga) ? `; the Yoga floor: ${times(ratio(yoga, raw))} (${sig(yoga)} CPU s/GB)` : '';
    targets.push({
      name: `gateway CPU per GB ≤ 1.5 × the raw proxy's, ${sizeLabel(size)} (all concurrencies)`,
      measured: Number.isFinite(value) ? `${times(value)} (${sig(gateway)} vs ${sig(raw)} CPU s/GB${floor})` : 'not measured',
      pass: Number.isFinite(value) ? value <= 1.5 : null,
    });
  }
  const { size, concurrency } = settings.memory;
  const load = `${concurrency} × ${sizeLabel(size)}`;
  const gatewayGrowth = peakGrowth(cells, 'gateway', size, concurrency);
  const rawGrowth = peakGrowth(cells, 'raw', size, concurrency);
  targets.push({
    name: `gateway peak memory growth at ${load} ≤ 64 MiB`,
    measured:
      gatewayGrowth !== null
        ? `+${(gatewayGrowth / MiB).toFixed(1)} MiB${rawGrowth !== null ? ` (raw proxy, the floor: +${(rawGrowth / MiB).toFixed(1)} MiB)` : ''}`
        : 'not measured',
    pass: gatewayGrowth !== null ? gatewayGrowth <= 64 * MiB : null,
  });
  const bufferingGrowth = peakGrowth(cells, 'buffering', size, concurrency);
  const expected = concurrency * size;
  targets.push({
    name: `buffering baseline's growth at ${load} ≥ ${(expected / MiB).toFixed(0)} MiB (expected: it holds every file)`,
    measured: bufferingGrowth !== null ? `+${(bufferingGrowth / MiB).toFixed(1)} MiB` : 'not measured',
    pass: bufferingGrowth !== null ? bufferingGrowth >= expected : null,
  });
  for (const fileSize of settings.sizes) {
    const cell = find(cells, 'gateway', fileSize, 1);
    const fb = cell?.firstByte;
    targets.push({
      name: `first file byte at the CRM within 50 ms of the client's (p99), ${sizeLabel(fileSize)} at concurrency 1`,
      measured: fb ? `p50 ${sig(fb.p50)} ms · p99 ${sig(fb.p99)} ms (${fb.n} uploads)` : 'not measured',
      pass: fb ? fb.p99 <= 50 : null,
    });
  }
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

export function renderMarkdown(report: Report, targets: Target[], notes: string[]): string {
  const { settings } = report;
  return [
    '# Benchmark: record-photo uploads through the gateway',
    '',
    `\`npm run bench\`${settings.quick ? ' (BENCH_QUICK=1: fewer sizes and shorter windows — not the reference run)' : ''}, ` +
      `${report.durationS.toFixed(0)} s wall time.`,
    '',
    '## Machine',
    '',
    ...machineLines(report.machine),
    '- Every process — load generator, gateway (or raw proxy / Yoga floor / buffering baseline), CRM sink, and the idle bench ' +
      `orchestrator — runs on this machine and shares its ${report.machine.cores} cores; traffic is on loopback. ` +
      'Absolute throughput is therefore bounded by the sum of all processes\' CPU, not by the gateway alone.',
    `- Gateway: \`node src/main.ts\`${report.revision.gatewayRoot === settings.root ? '' : ` from ${report.revision.gatewayRoot} (BENCH_GATEWAY_ROOT)`} ` +
      `at commit ${report.revision.commit}${report.revision.srcDirty ? ' (with uncommitted changes in src/)' : ''}, ` +
      `CRM limits ${report.revision.gatewayLimits}${Object.keys(settings.gatewayEnv).length ? `, extra env ${JSON.stringify(settings.gatewayEnv)}` : ' (its defaults)'}; ` +
      '`NODE_ENV=production` as in the container image (also for the raw proxy and the buffering baseline), and the image\'s `NODE_OPTIONS=--max-semi-space-size=2` for the gateway and the Yoga floor.',
    `- Other load: processes outside the bench (e.g. other developers' test runs) used ${otherLoad(report.cells)} of the machine during the measured windows (column \`other\`); ` +
      'rows with a large `other` figure are less reliable.',
    '',
    '## Results',
    '',
    renderTable(report.cells),
    '',
    ...(report.reads ? ['### Reads', '', renderReads(report.reads), ''] : []),
    '## Targets',
    '',
    renderTargets(targets),
    '',
    '## How to read it',
    '',
    ...notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}
