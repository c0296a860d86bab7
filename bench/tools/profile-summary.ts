/**
 * Reads a V8 .cpuprofile and says where the time went: self time by function and by package (node_modules
 * package, src/ file, node: internals, GC, idle), and inclusive time for the functions that matter.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Line {
  name: string;
  ms: number;
  /** Of the busy (non-idle) time. */
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  selfByFunction: Line[];
  selfByPackage: Line[];
  inclusiveByFunction: Line[];
}

function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program: native, not attributed)';
    return `native ${functionName || '(anonymous)'}`;
  }
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).replace(/^internal\//, '').split('/')[0]}`;
  const src = /\/(src\/.+)$/.exec(url);
  if (src) return src[1]!;
  return url;
}

function functionLabel(frame: CallFrame): string {
  const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'}${where}`;
}

function top(map: Map<string, number>, busyMs: number, count: number): Line[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms, percent: (ms / busyMs) * 100 }));
}

/**
 * `fromUs`: ignore samples taken before this CLOCK_MONOTONIC time in µs (what `process.hrtime.bigint() / 1000n`
 * reads in any process on the machine, and what V8 stamps profiles with) — e.g. to leave out start-up.
 */
export function summarize(file: string, count = 25, fromUs = 0): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= fromUs) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  const selfFn = new Map<string, number>();
  const selfPkg = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const ms = us / 1000;
    totalMs += ms;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const label = functionLabel(node.callFrame);
    selfFn.set(label, (selfFn.get(label) ?? 0) + ms);
    const pkg = packageOf(node.callFrame);
    selfPkg.set(pkg, (selfPkg.get(pkg) ?? 0) + ms);
    // Inclusive: count each distinct function once per stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.functionName === '(root)') continue;
      const name = functionLabel(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
  const busyMs = totalMs - idleMs;
  return {
    totalMs,
    busyMs,
    selfByFunction: top(selfFn, busyMs, count),
    selfByPackage: top(selfPkg, busyMs, count),
    inclusiveByFunction: top(inclusive, busyMs, count * 2),
  };
}

export function renderSummary(summary: ProfileSummary): string {
  const table = (title: string, lines: Line[]): string =>
    [`${title}`, ...lines.map((l) => `  ${l.percent.toFixed(1).padStart(5)}%  ${l.ms.toFixed(0).padStart(6)} ms  ${l.name}`)].join('\n');
  return [
    `profile: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(summary.busyMs / 1000).toFixed(1)} s busy (percentages are of busy time)`,
    table('self time by package:', summary.selfByPackage),
    table('self time by function:', summary.selfByFunction),
    table('inclusive time by function:', summary.inclusiveByFunction),
  ].join('\n\n');
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/tools/profile-summary.ts <file.cpuprofile> [count] [from-µs]');
    process.exit(2);
  }
  console.log(renderSummary(summarize(file, Number(process.argv[3] ?? 25), Number(process.argv[4] ?? 0))));
}
