/** Shared test tools: tiny images, multipart bodies, raw HTTP clients and polling. */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { Agent, FormData, request } from 'undici';
import type { RequestLogEntry } from '../../emulator/state.ts';

// The package's own dispatcher: the global one may be Node's bundled client, which cannot send this package's FormData.
export const agent = new Agent();

export const TOKEN_HEADER = 'Zoho-oauthtoken emulator-token';
export const RECORD = '1000000000001';

/** A PNG signature plus an IHDR chunk (enough for a header sniffer), then `padding` filler bytes. */
export function png(width: number, height: number, padding = 0): Buffer {
  const ihdrData = Buffer.alloc(13);
  ihdrData.writeUInt32BE(width, 0);
  ihdrData.writeUInt32BE(height, 4);
  ihdrData.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, deflate, no filter, no interlace
  const type = Buffer.from('IHDR', 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(13);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, ihdrData])));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, length, type, ihdrData, crc, Buffer.alloc(padding, 0x41)]);
}

export interface UploadOptions {
  module?: string;
  recordId?: string;
  version?: string;
  authorization?: string | null;
  bytes?: Buffer;
  filename?: string;
  contentType?: string;
  fieldName?: string;
  query?: string;
  signal?: AbortSignal;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export async function toAnswer(response: Awaited<ReturnType<typeof request>>): Promise<Answer> {
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

export function photoPath(options: Pick<UploadOptions, 'module' | 'recordId' | 'version' | 'query'> = {}): string {
  const query = options.query === undefined ? '' : `?${options.query}`;
  return `/crm/${options.version ?? 'v7'}/${options.module ?? 'Leads'}/${options.recordId ?? RECORD}/photo${query}`;
}

/** Uploads a photo the way a well-behaved client does (undici + FormData). */
export async function upload(origin: string, options: UploadOptions = {}): Promise<Answer> {
  const form = new FormData();
  form.append(
    options.fieldName ?? 'file',
    new Blob([new Uint8Array(options.bytes ?? png(2, 2))], { type: options.contentType ?? 'image/png' }),
    options.filename ?? 'photo.png',
  );
  const headers: Record<string, string> = {};
  const authorization = options.authorization === undefined ? TOKEN_HEADER : options.authorization;
  if (authorization !== null) headers['authorization'] = authorization;
  return toAnswer(await request(`${origin}${photoPath(options)}`, {
    method: 'POST',
    headers,
    body: form,
    dispatcher: agent,
    signal: options.signal,
  }));
}

/** Any request with a plain body; the token header is sent unless `authorization` is null. */
export async function call(
  origin: string,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; authorization?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const authorization = options.authorization === undefined ? TOKEN_HEADER : options.authorization;
  if (authorization !== null) headers['authorization'] = authorization;
  return toAnswer(await request(`${origin}${path}`, { method: method as 'GET', headers, body: options.body, dispatcher: agent }));
}

/** Calls the control API with a JSON body. */
export async function control(origin: string, method: string, path: string, body?: unknown): Promise<Answer> {
  return call(origin, method, `/__emulator/${path}`, {
    authorization: null,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer | string;
}

/** A hand-built multipart/form-data body, for bodies no FormData would produce. */
export function multipart(parts: readonly Part[], boundary = 'emulator-test-boundary'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`;
    const type = part.contentType === undefined ? '' : `\r\nContent-Type: ${part.contentType}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}${type}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A bare TCP client speaking HTTP/1.1 by hand, for trickled bodies, early answers and abrupt disconnects. */
export class RawClient {
  readonly socket: Socket;
  /** Resolves when the server side has closed or reset the connection. */
  readonly closed: Promise<void>;
  #received: Buffer[] = [];
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#received.push(chunk);
      this.#notify();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.#notify());
  }

  static connect(origin: string): Promise<RawClient> {
    const { hostname, port } = new URL(origin);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Writes the request line and headers. */
  head(method: string, path: string, headers: Record<string, string>): Promise<void> {
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: emulator', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    return this.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readyState === 'closed';
  }

  /** The first complete response (framed by Content-Length), or undefined if the connection closed first. */
  async response(): Promise<RawResponse | undefined> {
    for (;;) {
      const parsed = parseResponse(Buffer.concat(this.#received));
      if (parsed !== undefined) return parsed;
      if (this.socket.destroyed) return undefined;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

function parseResponse(data: Buffer): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? '0');
  const body = data.subarray(end + 4);
  if (body.length < length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.subarray(0, length) };
}

/** Polls `probe` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** The last logged request (the log is in arrival order). */
export function lastRequest(requests: readonly RequestLogEntry[]): RequestLogEntry {
  const entry = requests.at(-1);
  if (entry === undefined) throw new Error('no request was logged');
  return entry;
}

export function crmError(code: string, message: string): unknown {
  return { code, details: {}, message, status: 'error' };
}
