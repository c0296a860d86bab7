import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import { afterEach, describe, expect, it } from 'vitest';
import { PhotoClient, type PhotoClientOptions, type PhotoUploadReply, type PhotoUploadRequest } from '../../src/crm/photo-client.ts';
import { png } from '../fixtures/images.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A request as the server saw it: what arrived, and whether it arrived whole. */
interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: Buffer;
  complete: boolean;
}

const SUCCESS_BODY = JSON.stringify({ data: [{ code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' }] });

let server: Server | undefined;
let client: PhotoClient | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await client?.destroy();
  client = undefined;
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  }
});

/** Starts a server on 127.0.0.1 that records every request it gets; `handler` decides how it answers. */
async function startServer(handler: Handler): Promise<{ origin: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    const record: Seen = { method: req.method, url: req.url, headers: req.headers, body: Buffer.alloc(0), complete: false };
    seen.push(record);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      record.body = Buffer.concat(chunks);
    });
    req.on('end', () => (record.complete = true));
    handler(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Reads the whole body, then answers as the CRM does. */
const answerAfterBody =
  (status = 200, body = SUCCESS_BODY, headers: Record<string, string> = {}): Handler =>
  (req, res) => {
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
      res.end(body);
    });
    req.resume();
  };

function makeClient(origin: string, options: Partial<PhotoClientOptions> = {}): PhotoClient {
  client = new PhotoClient({
    apiDomain: origin,
    apiVersion: 'v8',
    connectTimeoutMs: 1_000,
    responseTimeoutMs: 2_000,
    maxConcurrency: 4,
    maxQueue: 4,
    queueTimeoutMs: 3_000,
    ...options,
  });
  return client;
}

/** A promise the test settles by hand: holds a content iterable mid-body. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  cleanups.push(open);
  return { promise, open };
}

/** Resolves once `condition` holds, polled on the event loop (for what only the server sees). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
}

async function* chunksOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

const uploadRequest = (content: AsyncIterable<Uint8Array>, overrides: Partial<PhotoUploadRequest> = {}): PhotoUploadRequest => ({
  target: { moduleApiName: 'Contacts', recordId: '3000000038009' },
  restrictWorkflow: false,
  authorization: 'Zoho-oauthtoken 1000.token',
  file: { filename: 'portrait.png', contentType: 'image/png', content },
  ...overrides,
});

interface FilePartSeen {
  field: string;
  filename: string | undefined;
  mimeType: string;
  data: Buffer;
}

/** Parses a multipart/form-data body the way a server would. */
function parseMultipart(contentType: string, body: Buffer): Promise<{ files: FilePartSeen[]; fields: string[] }> {
  return new Promise((resolve, reject) => {
    const files: FilePartSeen[] = [];
    const fields: string[] = [];
    const parser = busboy({ headers: { 'content-type': contentType } });
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => files.push({ field, filename: info.filename, mimeType: info.mimeType, data: Buffer.concat(chunks) }));
    });
    parser.on('field', (name) => fields.push(name));
    parser.on('error', reject);
    parser.on('close', () => resolve({ files, fields }));
    parser.end(body);
  });
}

function expectKind<K extends PhotoUploadReply['kind']>(reply: PhotoUploadReply, kind: K): Extract<PhotoUploadReply, { kind: K }> {
  expect(reply.kind).toBe(kind);
  return reply as Extract<PhotoUploadReply, { kind: K }>;
}

describe('PhotoClient: the CRM answers', () => {
  it('streams a multipart body with field "file", the filename, the content type and exactly the bytes', async () => {
    const { origin, seen } = await startServer(answerAfterBody());
    const photo = png(20, 10);
    const pieces = [photo.subarray(0, 5), photo.subarray(5, 40), photo.subarray(40)];
    const reply = await makeClient(origin).uploadPhoto(uploadRequest(chunksOf(...pieces), { restrictWorkflow: true }));

    const answered = expectKind(reply, 'answered');
    expect(answered.answer).toEqual({ status: 200, contentType: 'application/json;charset=UTF-8', retryAfter: null, body: SUCCESS_BODY });

    expect(seen).toHaveLength(1);
    const request = seen[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/crm/v8/Contacts/3000000038009/photo?restrict_triggers=workflow');
    expect(request.headers.authorization).toBe('Zoho-oauthtoken 1000.token');
    expect(request.headers.accept).toBe('application/json');
    const contentType = request.headers['content-type']!;
    expect(contentType).toMatch(/^multipart\/form-data; boundary=\S+$/);
    expect(request.complete).toBe(true);

    const { files, fields } = await parseMultipart(contentType, request.body);
    expect(fields).toEqual([]);
    expect(files).toHaveLength(1);
    expect(files[0]!.field).toBe('file');
    expect(files[0]!.filename).toBe('portrait.png');
    expect(files[0]!.mimeType).toBe('image/png');
    expect(files[0]!.data.equals(Buffer.from(photo))).toBe(true);
    // Nothing before the first boundary, nothing after the closing one.
    const boundary = contentType.slice(contentType.indexOf('boundary=') + 'boundary='.length);
    expect(request.body.subarray(0, boundary.length + 2).toString('latin1')).toBe(`--${boundary}`);
    expect(request.body.subarray(-(boundary.length + 6)).toString('latin1')).toBe(`--${boundary}--\r\n`);
  });

  it('leaves the query off without restrictWorkflow and escapes the path segments', async () => {
    const { origin, seen } = await startServer(answerAfterBody());
    await makeClient(origin).uploadPhoto(
      uploadRequest(chunksOf(png(1, 1)), { target: { moduleApiName: 'My Module/x', recordId: '42' } }),
    );
    expect(seen[0]!.url).toBe('/crm/v8/My%20Module%2Fx/42/photo');
  });

  it('reads a refusal as an answer, with its status, content type and Retry-After', async () => {
    const body = JSON.stringify({ code: 'TOO_MANY_REQUESTS', details: {}, message: 'too many requests', status: 'error' });
    const { origin } = await startServer(answerAfterBody(429, body, { 'retry-after': '30' }));
    const reply = await makeClient(origin).uploadPhoto(uploadRequest(chunksOf(png(1, 1))));
    expect(expectKind(reply, 'answered').answer).toEqual({
      status: 429,
      contentType: 'application/json;charset=UTF-8',
      retryAfter: '30',
      body,
    });
  });

  it('keeps the first 64 KiB of an oversized answer', async () => {
    const { origin } = await startServer(answerAfterBody(502, 'x'.repeat(100 * 1024), { 'content-type': 'text/html' }));
    const reply = await makeClient(origin).uploadPhoto(uploadRequest(chunksOf(png(1, 1))));
    const { answer } = expectKind(reply, 'answered');
    expect(answer.status).toBe(502);
    expect(answer.body).toBe('x'.repeat(64 * 1024));
  });

  it('takes an answer that comes before the body is read', async () => {
    const { origin, seen } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(SUCCESS_BODY);
    });
    const held = gate();
    async function* neverFinished(): AsyncGenerator<Uint8Array> {
      yield png(1, 1);
      await held.promise;
      yield new Uint8Array(16);
    }
    const reply = await makeClient(origin).uploadPhoto(uploadRequest(neverFinished()));
    expect(expectKind(reply, 'answered').answer).toMatchObject({ status: 200, body: SUCCESS_BODY });
    expect(seen[0]!.complete).toBe(false);
  });
});

describe('PhotoClient: no answer', () => {
  it('reports a connection the server resets as connection-lost', async () => {
    const { origin, seen } = await startServer((req) => req.socket.destroy());
    const reply = await makeClient(origin).uploadPhoto(uploadRequest(chunksOf(png(1, 1))));
    expect(expectKind(reply, 'transport-failed').failure).toBe('connection-lost');
    expect(seen).toHaveLength(1); // not retried
  });

  it('reports a port nobody listens on as unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const reply = await makeClient(`http://127.0.0.1:${port}`).uploadPhoto(uploadRequest(chunksOf(png(1, 1))));
    const failed = expectKind(reply, 'transport-failed');
    expect(failed.failure).toBe('unreachable');
    expect(failed.detail).toBe('ECONNREFUSED');
  });

  it('reports a CRM that reads the body and never answers as a timeout after responseTimeoutMs', async () => {
    const { origin, seen } = await startServer((req) => req.resume());
    const started = performance.now();
    const reply = await makeClient(origin, { responseTimeoutMs: 200 }).uploadPhoto(uploadRequest(chunksOf(png(1, 1))));
    const elapsed = performance.now() - started;

    expect(expectKind(reply, 'transport-failed').failure).toBe('timeout');
    expect(seen[0]!.complete).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('does not count a slow caller stream against the CRM', async () => {
    const { origin } = await startServer(answerAfterBody());
    async function* slowCaller(): AsyncGenerator<Uint8Array> {
      yield png(1, 1);
      await new Promise((resolve) => setTimeout(resolve, 150)); // longer than the CRM may take, but the wait is ours
      yield new Uint8Array(8);
    }
    const reply = await makeClient(origin, { responseTimeoutMs: 100 }).uploadPhoto(uploadRequest(slowCaller()));
    expect(expectKind(reply, 'answered').answer.status).toBe(200);
  });
});

describe('PhotoClient: the caller side fails', () => {
  it('reports a content iterable that throws as source-failed with that very error', async () => {
    const { origin, seen } = await startServer((req) => req.resume());
    const sourceError = new Error('the client stream broke');
    async function* breaks(): AsyncGenerator<Uint8Array> {
      yield png(1, 1);
      throw sourceError;
    }
    const reply = await makeClient(origin).uploadPhoto(uploadRequest(breaks()));
    expect(expectKind(reply, 'source-failed').error).toBe(sourceError);
    await until(() => seen.length === 1);
    expect(seen[0]!.complete).toBe(false);
  });

  it('reports cancelled when the caller signal is aborted mid-body, and the CRM request is broken off', async () => {
    let closedIncomplete!: (complete: boolean) => void;
    const requestClosed = new Promise<boolean>((resolve) => (closedIncomplete = resolve));
    const { origin, seen } = await startServer((req) => {
      req.on('close', () => closedIncomplete(req.complete));
      req.resume();
    });
    const held = gate();
    async function* halfway(): AsyncGenerator<Uint8Array> {
      yield png(1, 1);
      await held.promise;
      yield new Uint8Array(16);
    }
    const controller = new AbortController();
    const pending = makeClient(origin).uploadPhoto(uploadRequest(halfway(), { signal: controller.signal }));
    await until(() => (seen[0]?.body.length ?? 0) > 0);
    controller.abort(new Error('the client went away'));

    expect((await pending).kind).toBe('cancelled');
    expect(await requestClosed).toBe(false);
  });

  it('reports cancelled without a request when the signal is already aborted', async () => {
    const { origin, seen } = await startServer(answerAfterBody());
    const reply = await makeClient(origin).uploadPhoto(uploadRequest(chunksOf(png(1, 1)), { signal: AbortSignal.abort() }));
    expect(reply.kind).toBe('cancelled');
    expect(seen).toHaveLength(0);
  });
});

describe('PhotoClient: concurrency', () => {
  it('refuses a second upload while the only slot is held, and the CRM never sees it', async () => {
    const { origin, seen } = await startServer(answerAfterBody());
    const photoClient = makeClient(origin, { maxConcurrency: 1, maxQueue: 0, queueTimeoutMs: 3_000 });
    const held = gate();
    async function* heldOpen(): AsyncGenerator<Uint8Array> {
      yield png(1, 1);
      await held.promise;
    }
    const first = photoClient.uploadPhoto(uploadRequest(heldOpen()));
    await until(() => seen.length === 1);

    const second = await photoClient.uploadPhoto(uploadRequest(chunksOf(png(1, 1))));
    const refused = expectKind(second, 'queue-refused');
    expect(refused.retryAfterSeconds).toBe(3);
    expect(refused.detail).toContain('1 calls are in flight');
    expect(seen).toHaveLength(1);

    held.open();
    expect(expectKind(await first, 'answered').answer.status).toBe(200);
    // The slot is free again.
    const third = await photoClient.uploadPhoto(uploadRequest(chunksOf(png(1, 1))));
    expect(expectKind(third, 'answered').answer.status).toBe(200);
    expect(seen).toHaveLength(2);
  });
});
