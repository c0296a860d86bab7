/**
 * The load generator: closed-loop workers over an undici Pool, one connection per worker, sending pre-built
 * multipart bodies as streams. A cell warms up, then measures over a window: completions, latencies,
 * when each request's first file byte was written, and the CPU time of itself, the server and the sink
 * (read from /proc at the window's edges). Forked by run.ts; driven over IPC.
 */
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { bodyTemplate, BENCH_TOKEN, fileBytes, streamBody, type BodyShape, type BodyTemplate } from './bodies.ts';
import { wallClockMs } from './clock.ts';
import { announce, serve } from './ipc.ts';
import { cpuSeconds, machineBusySeconds, primeProcReaders } from './proc.ts';

export interface CellSpec {
  /** Distinguishes the cells' request ids (the sink reports arrivals by id). */
  tag: number;
  origin: string;
  path: string;
  shape: BodyShape;
  /** The answer to expect: the gateway's GraphQL success, or the CRM's JSON (the sink, or relayed by the raw proxy). */
  answer: 'graphql' | 'crm';
  size: number;
  concurrency: number;
  /**
   * 'window': warm up until `warmupCompletions` and `warmupMs`, then measure for `windowMs` (longer if fewer than
   * `minWindowCompletions` completed, up to 4 × windowMs). 'count': measure `requests` uploads from the first.
   */
  mode: { kind: 'window'; warmupCompletions: number; warmupMs: number; windowMs: number; minWindowCompletions: number } | { kind: 'count'; requests: number };
  /** Processes whose CPU time is read at the window's edges (the load generator itself is always read). */
  pids: { server?: number; sink: number };
  timeoutMs: number;
  /** Each upload sent at this rate, Mbit/s (a client on a slow link); absent: as fast as the socket takes it. */
  clientMbps?: number;
}

export interface CellResult {
  completed: number;
  windowMs: number;
  latenciesMs: number[];
  /** id → wall-clock ms when its first file byte was handed to the socket (measured requests only). */
  firstFileByteAt: Record<number, number>;
  /** CPU seconds over the window; `other`: every process on the machine outside the bench. */
  cpu: { load: number; server: number | null; sink: number; other: number };
  bytesPerUpload: number;
}

export interface PrepareParams {
  sizes: number[];
}

const files = new Map<number, Buffer>();
const templates = new Map<string, BodyTemplate>();

function template(shape: BodyShape, size: number): BodyTemplate {
  const key = `${shape}:${size}`;
  let found = templates.get(key);
  if (!found) {
    const file = files.get(size);
    if (!file) throw new Error(`size ${size} was not prepared`);
    found = bodyTemplate(shape, file);
    templates.set(key, found);
  }
  return found;
}

function prepare({ sizes }: PrepareParams): { bodyBytes: Record<string, number> } {
  primeProcReaders();
  const bodyBytes: Record<string, number> = {};
  for (const size of sizes) {
    if (!files.has(size)) files.set(size, fileBytes(size));
    for (const shape of ['graphql', 'plain'] as const) bodyBytes[`${shape}:${size}`] = template(shape, size).length;
  }
  return { bodyBytes };
}

interface CpuReading {
  load: number;
  server: number | null;
  sink: number;
  /** The bench orchestrator (our parent), idle but for its memory sampling. */
  orchestrator: number;
  machine: number;
}

function readCpu(spec: CellSpec): CpuReading {
  return {
    load: cpuSeconds(process.pid),
    server: spec.pids.server === undefined ? null : cpuSeconds(spec.pids.server),
    sink: cpuSeconds(spec.pids.sink),
    orchestrator: cpuSeconds(process.ppid),
    machine: machineBusySeconds(),
  };
}

function cpuUsed(start: CpuReading, end: CpuReading): CellResult['cpu'] {
  const load = end.load - start.load;
  const server = end.server === null || start.server === null ? null : end.server - start.server;
  const sink = end.sink - start.sink;
  const bench = load + (server ?? 0) + sink + (end.orchestrator - start.orchestrator);
  return { load, server, sink, other: Math.max(0, end.machine - start.machine - bench) };
}

function expectedAnswer(answer: CellSpec['answer'], size: number): (text: string) => boolean {
  if (answer === 'crm') return (text) => text.includes('"code":"SUCCESS"');
  return (text) => text.includes('"__typename":"UploadRecordPhotoSuccess"') && text.includes(`"byteSize":${size}`);
}

/**
 * A client link of `mbps`: each write is handed over when it would have finished crossing the link, so the last
 * byte leaves at size ÷ rate after the first. Without a rate, the body as it comes.
 */
async function* paced(source: AsyncGenerator<Buffer>, mbps: number | undefined): AsyncGenerator<Buffer> {
  if (!mbps) return yield* source;
  const startedAt = performance.now();
  let sent = 0;
  for await (const chunk of source) {
    sent += chunk.length;
    const wait = startedAt + (sent * 8) / (mbps * 1_000) - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    yield chunk;
  }
}

async function run(spec: CellSpec): Promise<CellResult> {
  const body = template(spec.shape, spec.size);
  const accepts = expectedAnswer(spec.answer, spec.size);
  const pool = new Pool(spec.origin, {
    connections: spec.concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: spec.timeoutMs,
    bodyTimeout: spec.timeoutMs,
  });
  const headers = {
    'content-type': body.contentType,
    'content-length': String(body.length),
    authorization: `Zoho-oauthtoken ${BENCH_TOKEN}`,
    'apollo-require-preflight': 'true',
    accept: 'application/graphql-response+json, application/json;q=0.9',
  };

  const mode = spec.mode;
  let phase: 'warmup' | 'window' | 'done' = mode.kind === 'count' ? 'window' : 'warmup';
  let failure: Error | undefined;
  let nextSeq = 0;
  let issued = 0;
  let completedTotal = 0;
  const started = performance.now();
  let windowStart = started;
  let windowEnd = Number.NaN;
  let cpuStart = readCpu(spec);
  let cpuEnd = cpuStart;
  const latenciesMs: number[] = [];
  const firstFileByteAt: Record<number, number> = {};
  let minTimer: NodeJS.Timeout | undefined;
  let capTimer: NodeJS.Timeout | undefined;

  const closeWindow = (): void => {
    if (phase !== 'window') return;
    windowEnd = performance.now();
    cpuEnd = readCpu(spec);
    phase = 'done';
    clearTimeout(minTimer);
    clearTimeout(capTimer);
  };
  const openWindow = (): void => {
    if (mode.kind !== 'window') return;
    phase = 'window';
    windowStart = performance.now();
    cpuStart = readCpu(spec);
    minTimer = setTimeout(() => {
      if (latenciesMs.length >= mode.minWindowCompletions) closeWindow();
    }, mode.windowMs);
    capTimer = setTimeout(closeWindow, mode.windowMs * 4);
  };

  const shouldIssue = (): boolean => {
    if (failure || phase === 'done') return false;
    return mode.kind === 'window' || issued < mode.requests;
  };

  async function one(seq: number): Promise<void> {
    const id = spec.tag * 1_000_000 + seq;
    let firstByteAt = 0;
    const t0 = performance.now();
    const response = await pool.request({
      path: spec.path,
      method: 'POST',
      headers,
      // undici streams any AsyncIterable body (documented), though its types list only Readable.
      body: paced(
        streamBody(body, id, () => {
          firstByteAt = wallClockMs();
        }),
        spec.clientMbps,
      ) as unknown as Readable,
    });
    const text = await response.body.text();
    const t1 = performance.now();
    if (response.statusCode !== 200 || !accepts(text)) {
      throw new Error(`${spec.origin}${spec.path} answered HTTP ${response.statusCode}: ${text.slice(0, 500)}`);
    }
    completedTotal++;
    if (phase === 'warmup' && mode.kind === 'window' && completedTotal >= mode.warmupCompletions && t1 - started >= mode.warmupMs) {
      openWindow();
      return; // this one finished before the window opened
    }
    if (phase !== 'window' || t1 < windowStart) return;
    latenciesMs.push(t1 - t0);
    if (firstByteAt > 0) firstFileByteAt[id] = firstByteAt;
    if (mode.kind === 'count') {
      if (latenciesMs.length >= mode.requests) closeWindow();
    } else if (performance.now() - windowStart >= mode.windowMs && latenciesMs.length >= mode.minWindowCompletions) {
      closeWindow();
    }
  }

  async function worker(): Promise<void> {
    while (shouldIssue()) {
      issued++;
      try {
        await one(nextSeq++);
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
      }
    }
  }

  const timeout = setTimeout(() => {
    failure ??= new Error(`cell timed out after ${spec.timeoutMs} ms (${completedTotal} uploads completed)`);
    void pool.destroy();
  }, spec.timeoutMs);
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } finally {
    clearTimeout(timeout);
    clearTimeout(minTimer);
    clearTimeout(capTimer);
    await pool.close().catch(() => pool.destroy());
  }
  if (failure) throw failure;
  closeWindow(); // no-op unless the workers stopped while the window was open
  return {
    completed: latenciesMs.length,
    windowMs: windowEnd - windowStart,
    latenciesMs,
    firstFileByteAt,
    cpu: cpuUsed(cpuStart, cpuEnd),
    bytesPerUpload: body.length,
  };
}

serve({ prepare, run });
announce('ready', { pid: process.pid });
