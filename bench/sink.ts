/**
 * The CRM sink: answers `POST /crm/v{n}/{Module}/{id}/photo` with the CRM's SUCCESS JSON once the multipart body
 * is drained (at once, or after the delay set over IPC; read as it comes, or at a rate set over IPC). It counts bytes and notes when the first byte of the file part arrived, keyed by the id in the file
 * name, for the load generator's time-to-first-byte figure. It also answers Get Records
 * (`GET /crm/v{n}/{Module}?ids=…&fields=Record_Image`: every id a record with a Record_Image) and counts those calls.
 * Forked by run.ts; answers over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FILENAME_ID } from './bodies.ts';
import { wallClockMs } from './clock.ts';
import { announce, serve } from './ipc.ts';

export interface SinkArrival {
  /** Wall-clock ms when the first byte of the file part arrived. */
  firstFileByteAt: number;
  /** Bytes of the file part (body minus the part headers and the closing boundary). */
  fileBytes: number;
}

export interface SinkStats {
  requests: number;
  bodyBytes: number;
  /** Get Records calls answered. */
  recordReads: number;
}

const SUCCESS = Buffer.from(
  JSON.stringify({ code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' }),
);
const PHOTO_PATH = /^\/crm\/v\d+\/[^/]+\/\d{1,19}\/photo(\?|$)/;
/** Part headers beyond this are not looked for: the file part's must come early. */
const MAX_HEAD_SCAN = 256 * 1024;
/** Arrivals kept between two `take` calls (a bound, not an expected count). */
const MAX_ARRIVALS = 200_000;

const arrivals = new Map<number, SinkArrival>();
/** How long the CRM takes to answer once the body is in (a real one stores and resizes the photo); 0 by default. */
let answerDelayMs = 0;
/** The rate each upload is read at, Mbit/s (a CRM behind its own link and ingestion); 0: as fast as it comes. */
let readMbps = 0;
const stats: SinkStats = { requests: 0, bodyBytes: 0, recordReads: 0 };
const RECORDS_PATH = /^\/crm\/v\d+\/[^/?]+\?/;

function answer(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': body.length });
  res.end(body);
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string): void {
  req.resume();
  req.once('end', () => answer(res, status, Buffer.from(JSON.stringify({ code, details: {}, message: code, status: 'error' }))));
}

/** Get Records: each id asked for is a record whose Record_Image is `bench-{id}`; 400 without ids and fields. */
function getRecords(req: IncomingMessage, res: ServerResponse): void {
  const query = new URL(req.url ?? '/', 'http://sink.invalid').searchParams;
  const ids = (query.get('ids') ?? '').split(',').filter(Boolean);
  if (ids.length === 0 || ids.length > 100 || query.get('fields') !== 'Record_Image') return refuse(req, res, 400, 'INVALID_DATA');
  req.resume();
  req.once('end', () => {
    stats.recordReads++;
    const data = ids.map((id) => ({ Record_Image: `bench-${id}`, id }));
    answer(res, 200, Buffer.from(JSON.stringify({ data, info: { per_page: 200, count: data.length, page: 1, more_records: false } })));
  });
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET' && RECORDS_PATH.test(req.url ?? '')) {
    if (!/^Zoho-oauthtoken \S+$/.test(req.headers.authorization ?? '')) return refuse(req, res, 401, 'INVALID_TOKEN');
    return getRecords(req, res);
  }
  if (req.method !== 'POST' || !PHOTO_PATH.test(req.url ?? '')) return refuse(req, res, 404, 'INVALID_URL_PATTERN');
  if (!/^Zoho-oauthtoken \S+$/.test(req.headers.authorization ?? '')) return refuse(req, res, 401, 'INVALID_TOKEN');
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(req.headers['content-type'] ?? '');
  if (!boundary) return refuse(req, res, 400, 'INVALID_DATA');
  const closing = `\r\n--${boundary[1] ?? boundary[2]}--\r\n`.length;

  let received = 0;
  let head: Buffer | undefined = Buffer.alloc(0);
  let fileStart = -1;
  let id = -1;
  let firstFileByteAt = 0;
  const startedAt = performance.now();
  const mbps = readMbps;
  req.on('data', (chunk: Buffer) => {
    const now = wallClockMs();
    if (head !== undefined) {
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      const named = FILENAME_ID.exec(text);
      const filename = named ? named.index : text.indexOf('filename="');
      const end = filename >= 0 ? text.indexOf('\r\n\r\n', filename) : -1;
      if (end >= 0) {
        fileStart = end + 4;
        id = named ? Number(named[1]) : -1;
        head = undefined;
      } else if (head.length > MAX_HEAD_SCAN) {
        head = undefined; // no file part: just count
      }
    }
    received += chunk.length;
    if (fileStart >= 0 && firstFileByteAt === 0 && received > fileStart) firstFileByteAt = now;
    if (mbps > 0) {
      // A capped link: the next chunk is read no sooner than this one would have finished arriving at `mbps`.
      // The sender meanwhile fills the socket buffers and then waits, as it would on a slow link.
      const wait = startedAt + (received * 8) / (mbps * 1_000) - performance.now();
      if (wait > 1) {
        req.pause();
        setTimeout(() => req.resume(), wait);
      }
    }
  });
  req.on('end', () => {
    stats.requests++;
    stats.bodyBytes += received;
    if (id >= 0 && firstFileByteAt > 0 && arrivals.size < MAX_ARRIVALS) {
      arrivals.set(id, { firstFileByteAt, fileBytes: received - fileStart - closing });
    }
    if (answerDelayMs > 0) setTimeout(() => answer(res, 200, SUCCESS), answerDelayMs);
    else answer(res, 200, SUCCESS);
  });
}

const server = createServer(handle);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  announce('ready', { port: (server.address() as AddressInfo).port });
});

serve({
  /** The arrivals since the last call, by id; they are forgotten. */
  take: (): Record<number, SinkArrival> => {
    const out = Object.fromEntries(arrivals);
    arrivals.clear();
    return out;
  },
  stats: (): SinkStats => ({ ...stats }),
  answerDelay: ({ ms }: { ms: number }): void => {
    answerDelayMs = ms;
  },
  readRate: ({ mbps }: { mbps: number }): void => {
    readMbps = mbps;
  },
});
