/** One measured cell: the load generator drives one path while the bench watches the server's memory. */
import type { Child } from './children.ts';
import type { CellResult, CellSpec } from './load.ts';
import { idleRss, memory, RssSampler } from './proc.ts';
import type { Server } from './servers.ts';
import type { SinkArrival } from './sink.ts';
import { percentile } from './stats.ts';

export type PathKind = 'gateway' | 'gatewayAt10' | 'direct' | 'raw' | 'yoga' | 'buffering' | 'apollo' | 'multer';

export const PATH_LABELS: Record<PathKind, string> = {
  gateway: 'gateway',
  gatewayAt10: 'gateway at its default CRM_MAX_CONCURRENCY (10)',
  direct: 'direct to CRM',
  raw: 'raw proxy',
  yoga: 'Yoga floor',
  buffering: 'Yoga File (buffering)',
  apollo: 'Apollo + graphql-upload',
  multer: 'Express + multer',
};

/** The peers: what a team would run instead of the gateway. */
export const PEERS = ['apollo', 'multer', 'buffering'] as const satisfies readonly PathKind[];

/** How the client and the CRM behave: `loopback` as fast as they can; `wan` a slow client link and a slow CRM. */
export interface NetworkProfile {
  name: 'loopback' | 'wan';
  /** The client's sending rate, Mbit/s; 0: unpaced. */
  clientMbps: number;
  /** The CRM's reading rate, Mbit/s; 0: unpaced. */
  crmMbps: number;
  /** How long the CRM waits after the last byte before it answers. */
  crmDelayMs: number;
}

export const LOOPBACK: NetworkProfile = { name: 'loopback', clientMbps: 0, crmMbps: 0, crmDelayMs: 0 };

export interface CellOutcome {
  path: PathKind;
  profile: NetworkProfile['name'];
  /** Bytes of each request body the client sent. */
  bodyBytes: number;
  size: number;
  concurrency: number;
  /** true for the fresh-process memory runs at the end. */
  memoryRun: boolean;
  /** How long the sink waited before each answer, ms (memory runs only; 0 elsewhere). */
  crmAnswerDelayMs: number;
  completed: number;
  windowS: number;
  uploadsPerS: number;
  p50Ms: number;
  p99Ms: number;
  cpu: CellResult['cpu'];
  /** Server CPU seconds per 10^9 file bytes forwarded; null on the direct path. */
  serverCpuPerGB: number | null;
  /** Peak RSS over the idle RSS just before the cell, bytes; null on the direct path. */
  rssGrowth: number | null;
  rssBaseline: number | null;
  /** VmHWM after the cell minus the idle baseline: the kernel's own peak, for fresh processes (memory runs). */
  hwmGrowth: number | null;
  /** CRM first byte after the client's first file byte, ms (when measured). */
  firstByte: { p50: number; p99: number; n: number } | null;
}

export interface Rig {
  load: Child;
  sink: Server;
  nextTag: () => number;
}

export interface CellRequest {
  path: PathKind;
  /** The server the client talks to: the sink itself on the direct path. */
  server: Server;
  size: number;
  concurrency: number;
  mode: CellSpec['mode'];
  measureFirstByte: boolean;
  timeoutMs: number;
  memoryRun?: boolean;
  /** The sink waits this long before each answer during the cell (a memory run's slow CRM). */
  crmAnswerDelayMs?: number;
  /** The client's link and the CRM's pace; loopback when absent. */
  profile?: NetworkProfile;
}

export async function runCell(rig: Rig, request: CellRequest): Promise<CellOutcome> {
  const { path, server, size, concurrency } = request;
  const direct = path === 'direct';
  const tag = rig.nextTag();
  const spec: CellSpec = {
    tag,
    origin: server.origin,
    path: server.path,
    shape: direct ? 'plain' : 'graphql',
    answer: direct || path === 'raw' ? 'crm' : 'graphql',
    size,
    concurrency,
    mode: request.mode,
    pids: { server: direct ? undefined : server.child.pid, sink: rig.sink.child.pid },
    timeoutMs: request.timeoutMs,
    ...(request.profile?.clientMbps ? { clientMbps: request.profile.clientMbps } : {}),
  };
  const profile = request.profile ?? LOOPBACK;
  const crmAnswerDelayMs = request.crmAnswerDelayMs ?? profile.crmDelayMs;
  await rig.sink.child.call('answerDelay', { ms: crmAnswerDelayMs });
  await rig.sink.child.call('readRate', { mbps: profile.crmMbps });
  const rssBaseline = direct ? null : await idleRss(server.child.pid, 5);
  const sampler = direct ? null : new RssSampler(server.child.pid);
  let result: CellResult;
  let peak: number | null = null;
  let hwm: number | null = null;
  try {
    result = await rig.load.call<CellResult>('run', spec);
  } finally {
    peak = sampler ? sampler.stop().peak : null;
    hwm = direct ? null : memory(server.child.pid).hwm;
    if (crmAnswerDelayMs > 0) await rig.sink.child.call('answerDelay', { ms: 0 });
    if (profile.crmMbps > 0) await rig.sink.child.call('readRate', { mbps: 0 });
  }
  const arrivals = await rig.sink.child.call<Record<number, SinkArrival>>('take');
  checkArrivals(arrivals, tag, size, path);

  let firstByte: CellOutcome['firstByte'] = null;
  if (request.measureFirstByte) {
    const delays: number[] = [];
    for (const [id, sentAt] of Object.entries(result.firstFileByteAt)) {
      const arrival = arrivals[Number(id)];
      if (!arrival) throw new Error(`${PATH_LABELS[path]}: the sink never saw upload ${id}`);
      delays.push(arrival.firstFileByteAt - sentAt);
    }
    firstByte = { p50: percentile(delays, 50), p99: percentile(delays, 99), n: delays.length };
  }

  const windowS = result.windowMs / 1000;
  const gigabytes = (result.completed * size) / 1e9;
  return {
    path,
    profile: profile.name,
    bodyBytes: result.bytesPerUpload,
    size,
    concurrency,
    memoryRun: request.memoryRun ?? false,
    crmAnswerDelayMs: request.crmAnswerDelayMs ?? 0,
    completed: result.completed,
    windowS,
    uploadsPerS: result.completed / windowS,
    p50Ms: percentile(result.latenciesMs, 50),
    p99Ms: percentile(result.latenciesMs, 99),
    cpu: result.cpu,
    serverCpuPerGB: result.cpu.server === null ? null : result.cpu.server / gigabytes,
    rssGrowth: peak === null || rssBaseline === null ? null : peak - rssBaseline,
    rssBaseline,
    hwmGrowth: hwm === null || rssBaseline === null ? null : hwm - rssBaseline,
    firstByte,
  };
}

/** Every upload of the cell reached the sink whole: the forwarders dropped or added no file byte. */
function checkArrivals(arrivals: Record<number, SinkArrival>, tag: number, size: number, path: PathKind): void {
  let seen = 0;
  for (const [id, arrival] of Object.entries(arrivals)) {
    if (Math.floor(Number(id) / 1_000_000) !== tag) continue;
    seen++;
    if (arrival.fileBytes !== size) {
      throw new Error(`${PATH_LABELS[path]}: upload ${id} reached the sink with ${arrival.fileBytes} file bytes, not ${size}`);
    }
  }
  if (seen === 0) throw new Error(`${PATH_LABELS[path]}: no upload of this cell reached the sink with its file name`);
}
