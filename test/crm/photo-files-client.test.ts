import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../src/crm/concurrency-limit.ts';
import type { CrmCallEnded } from '../../src/crm/observer.ts';
import { PhotoFilesClient, type PhotoDownloadReply } from '../../src/crm/photo-files-client.ts';
import { png } from '../fixtures/images.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;
let client: PhotoFilesClient | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  }
});

async function startServer(handler: Handler): Promise<{ origin: string; seen: { method?: string; url?: string; authorization?: string }[]; closed: Promise<void>[] }> {
  const seen: { method?: string; url?: string; authorization?: string }[] = [];
  const closed: Promise<void>[] = [];
  server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    closed.push(new Promise((resolve) => res.once('close', () => resolve())));
    handler(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, closed };
}

function newClient(origin: string, options: { limit?: ConcurrencyLimit; responseTimeoutMs?: number; calls?: CrmCallEnded[] } = {}) {
  const calls = options.calls;
  client = new PhotoFilesClient({
    apiDomain: origin,
    apiVersion: 'v7',
    connectTimeoutMs: 1_000,
    responseTimeoutMs: options.responseTimeoutMs ?? 2_000,
    limit: options.limit ?? new ConcurrencyLimit({ max: 2, maxQueue: 0, timeoutMs: 1_000 }),
    queueTimeoutMs: 1_000,
    ...(calls ? { observer: { crmCallEnded: (call: CrmCallEnded) => calls.push(call) } } : {}),
  });
  return client;
}

const request = { target: { moduleApiName: 'Leads', recordId: '1000000000001' }, authorization: 'Zoho-oauthtoken t' };

async function readAll(reply: PhotoDownloadReply): Promise<Buffer> {
  if (reply.kind !== 'photo') throw new Error(`expected a photo, got ${reply.kind}`);
  const chunks: Buffer[] = [];
  for await (const chunk of reply.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('PhotoFilesClient.downloadPhoto', () => {
  it("GETs the record's photo with the caller's authorization and hands on the CRM's stream", async () => {
    const bytes = Buffer.from(png(8, 8));
    const { origin, seen } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length });
      res.end(bytes);
    });
    const reply = await newClient(origin).downloadPhoto(request);
    expect(reply).toMatchObject({ kind: 'photo', status: 200, contentType: 'image/png', contentLength: bytes.length });
    expect((await readAll(reply)).equals(bytes)).toBe(true);
    expect(seen).toEqual([{ method: 'GET', url: '/crm/v7/Leads/1000000000001/photo', authorization: 'Zoho-oauthtoken t' }]);
  });

  it('says a 204 is no photo', async () => {
    const { origin } = await startServer((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    expect(await newClient(origin).downloadPhoto(request)).toEqual({ kind: 'no-photo' });
  });

  it('reads an error answer off in full, for the use case to judge', async () => {
    const body = JSON.stringify({ code: 'INVALID_TOKEN', details: {}, message: 'invalid oauth token', status: 'error' });
    const { origin } = await startServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(body);
    });
    expect(await newClient(origin).downloadPhoto(request)).toEqual({
      kind: 'answered',
      answer: { status: 401, contentType: 'application/json', retryAfter: null, body },
    });
  });

  it('keeps its CRM slot until the photo has been read, and reports the call then', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 0, timeoutMs: 1_000 });
    const calls: CrmCallEnded[] = [];
    const { origin } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from(png(4, 4)));
    });
    const files = newClient(origin, { limit, calls });
    const reply = await files.downloadPhoto(request);
    expect(limit.active).toBe(1);
    expect(calls).toEqual([]);
    // a second call finds no slot while the first body is open
    expect(await files.downloadPhoto(request)).toMatchObject({ kind: 'queue-refused' });
    await readAll(reply);
    await new Promise((resolve) => setImmediate(resolve));
    expect(limit.active).toBe(0);
    expect(calls).toMatchObject([{ operation: 'download-photo', status: 200 }]);
  });

  it('gives the slot back and aborts the CRM request when the body is destroyed half-way', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 0, timeoutMs: 1_000 });
    const { origin, closed } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 1_000_000 });
      res.write(Buffer.alloc(1000));
      // and never the rest
    });
    const reply = await newClient(origin, { limit }).downloadPhoto(request);
    if (reply.kind !== 'photo') throw new Error(reply.kind);
    reply.body.destroy();
    await closed[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(limit.active).toBe(0);
  });

  it('aborts the CRM request when the caller signal fires mid-body', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 0, timeoutMs: 1_000 });
    const { origin, closed } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 1_000_000 });
      res.write(Buffer.alloc(1000));
    });
    const controller = new AbortController();
    const reply = await newClient(origin, { limit }).downloadPhoto({ ...request, signal: controller.signal });
    if (reply.kind !== 'photo') throw new Error(reply.kind);
    reply.body.on('error', () => {});
    controller.abort();
    await closed[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(reply.body.destroyed).toBe(true);
    expect(limit.active).toBe(0);
  });

  it('turns a CRM that never answers into a timeout, and a refused connection into unreachable', async () => {
    const { origin } = await startServer(() => {});
    expect(await newClient(origin, { responseTimeoutMs: 100 }).downloadPhoto(request)).toMatchObject({ kind: 'transport-failed', failure: 'timeout' });
    await client!.destroy();
    expect(await newClient('http://127.0.0.1:1').downloadPhoto(request)).toMatchObject({ kind: 'transport-failed', failure: 'unreachable' });
  });

  it('says cancelled, not failed, when the caller left before the answer', async () => {
    const { origin } = await startServer(() => {});
    const controller = new AbortController();
    const reply = newClient(origin).downloadPhoto({ ...request, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await reply).toEqual({ kind: 'cancelled' });
  });
});

describe('PhotoFilesClient.deletePhoto', () => {
  it("DELETEs the record's photo and reads the answer", async () => {
    const body = JSON.stringify({ code: 'SUCCESS', details: {}, message: 'photo deleted', status: 'success' });
    const calls: CrmCallEnded[] = [];
    const { origin, seen } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 0, timeoutMs: 1_000 });
    expect(await newClient(origin, { limit, calls }).deletePhoto(request)).toEqual({
      kind: 'answered',
      answer: { status: 200, contentType: 'application/json', retryAfter: null, body },
    });
    expect(seen).toEqual([{ method: 'DELETE', url: '/crm/v7/Leads/1000000000001/photo', authorization: 'Zoho-oauthtoken t' }]);
    expect(limit.active).toBe(0);
    expect(calls).toMatchObject([{ operation: 'delete-photo', status: 200 }]);
  });

  it('waits for a slot of the shared limit like any other CRM call', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 1, timeoutMs: 1_000 });
    const release = await limit.acquire();
    const { origin } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"code":"SUCCESS","details":{},"message":"photo deleted","status":"success"}');
    });
    const pending = newClient(origin, { limit }).deletePhoto(request);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(limit.waiting).toBe(1);
    release();
    expect(await pending).toMatchObject({ kind: 'answered', answer: { status: 200 } });
  });
});
