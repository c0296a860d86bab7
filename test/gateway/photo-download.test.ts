import { request as undiciRequest, Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gif, png, withPadding } from '../fixtures/images.ts';
import { download, originOf, photoUrlOf } from '../support/photo-routes.ts';
import { startStack, useStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// Pass-through: the caller's own CRM token comes with every download, as with GraphQL.
const stack = useStack({ CORS_ORIGINS: 'https://app.example.com', CRM_RESPONSE_TIMEOUT_MS: '1000' });
const AUTH = { authorization: 'Zoho-oauthtoken emulator-token' };
const PHOTO_PATH = '/photos/Leads/1000000000001';

async function uploaded(file: Uint8Array, recordId = '1000000000001'): Promise<void> {
  expect(resultOf(await uploadPhoto(stack.url, { file, recordId })).__typename).toBe('UploadRecordPhotoSuccess');
}

async function settle<T>(check: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('GET /photos/{module}/{recordId}', () => {
  it('streams the exact bytes, typed by sniffing them, immutable under its ?v= URL', async () => {
    const file = withPadding(png(64, 48), 300_000);
    await uploaded(file);
    const url = await photoUrlOf(stack.url);
    expect(url).toMatch(/^\/photos\/Leads\/1000000000001\?v=[0-9a-f]+$/);
    const answer = await download(stack.url, url!, AUTH);
    expect(answer.status).toBe(200);
    expect(answer.bytes.equals(Buffer.from(file))).toBe(true);
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect(answer.headers.get('content-length')).toBe(String(file.length));
    expect(answer.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.headers.get('x-request-id')).toBeTruthy();
    // one CRM call, with the caller's token
    const calls = (await stack.crm.requests()).filter((r) => r.method === 'GET' && r.path.endsWith('/photo'));
    expect(calls).toMatchObject([{ path: '/crm/v7/Leads/1000000000001/photo', authorization: 'Zoho-oauthtoken emulator-token', state: 'answered' }]);
  });

  it('says no-cache without ?v=, since the photo behind that URL can change', async () => {
    await uploaded(gif(5, 7));
    const answer = await download(stack.url, PHOTO_PATH, AUTH);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('image/gif');
    expect(answer.headers.get('cache-control')).toBe('no-cache');
  });

  it("takes the type from the bytes, not from the CRM's header", async () => {
    // Straight to the CRM, with a part type that lies: the CRM keeps and serves back the type it was told.
    const file = png(3, 3);
    const form = new FormData();
    form.set('file', new Blob([file], { type: 'text/html' }), 'a.html');
    const stored = await fetch(`${stack.emulator.origin}/crm/v7/Leads/1000000000002/photo`, { method: 'POST', body: form, headers: AUTH });
    expect(stored.status).toBe(200);
    const direct = await fetch(`${stack.emulator.origin}/crm/v7/Leads/1000000000002/photo`, { headers: AUTH });
    expect(direct.headers.get('content-type')).toBe('text/html');
    await direct.arrayBuffer();
    const answer = await download(stack.url, '/photos/Leads/1000000000002', AUTH);
    expect(answer.headers.get('content-type')).toBe('image/png');
    expect(answer.bytes.equals(Buffer.from(file))).toBe(true);
  });

  it('hands the first bytes to the client while the CRM is still sending the rest', async () => {
    await uploaded(withPadding(png(8, 8), 200_000));
    await stack.crm.addFault({ kind: 'throttle', chunkBytes: 20_000, intervalMs: 100, match: { recordId: '1000000000001' } });
    const started = Date.now();
    const response = await fetch(new URL(PHOTO_PATH, originOf(stack.url)), { headers: AUTH });
    const reader = response.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(first.value!.length).toBeGreaterThan(0);
    let total = first.value!.length;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) total += chunk.value.length;
    const allAt = Date.now() - started;
    expect(total).toBe(200_000);
    expect(allAt - firstAt).toBeGreaterThan(500);
  });

  it('aborts the CRM request when the client leaves mid-download, and leaves no socket or CRM slot behind', async () => {
    await uploaded(withPadding(png(8, 8), 400_000));
    await stack.crm.reset();
    await uploaded(withPadding(png(8, 8), 400_000));
    await stack.crm.addFault({ kind: 'throttle', chunkBytes: 8_000, intervalMs: 50, match: { recordId: '1000000000001' } });
    const agent = new Agent();
    const controller = new AbortController();
    const response = await undiciRequest(new URL(PHOTO_PATH, originOf(stack.url)), { headers: AUTH, dispatcher: agent, signal: controller.signal });
    expect(response.statusCode).toBe(200);
    response.body.on('error', () => {});
    let received = 0;
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length;
      if (received >= 16_000) break;
    }
    const leftAt = Date.now();
    controller.abort();
    await agent.destroy();

    const log = await stack.crm.waitFor((entries) => entries.some((e) => e.method === 'GET' && e.state === 'aborted'));
    const get = log.find((e) => e.method === 'GET')!;
    expect(get.endedAt! - leftAt).toBeLessThan(2_000);
    expect(await settle(() => stack.gateway.crmLoad(), (load) => load.inFlight === 0)).toEqual({ inFlight: 0, queued: 0 });
    const connections = await settle(
      () => new Promise<number>((resolve) => stack.gateway.server.getConnections((_e, n) => resolve(n))),
      (n) => n === 0,
    );
    expect(connections).toBe(0);
    // and it keeps serving
    expect((await download(stack.url, PHOTO_PATH, AUTH)).status).toBe(200);
  });

  it('passes CORS for a configured origin, as GraphQL does', async () => {
    await uploaded(png(2, 2));
    const preflight = await fetch(new URL(PHOTO_PATH, originOf(stack.url)), {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const answer = await download(stack.url, PHOTO_PATH, { ...AUTH, origin: 'https://app.example.com' });
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const other = await download(stack.url, PHOTO_PATH, { ...AUTH, origin: 'https://evil.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('refusals: an HTTP status and a JSON body with a code', () => {
  it.each([
    ['a path that is not a photo', 404, 'INVALID_URL_PATTERN', '/photos/Leads', AUTH],
    ['a module the gateway does not serve', 404, 'INVALID_MODULE', '/photos/Documents/1000000000001', AUTH],
    ['an enum name instead of the API name', 404, 'INVALID_MODULE', '/photos/LEADS/1000000000001', AUTH],
    ['a record id that is not 1-19 digits', 400, 'INVALID_RECORD_ID', '/photos/Leads/1000000000001%2F..%2Fx', AUTH],
    ['no credentials', 401, 'MISSING_CREDENTIALS', PHOTO_PATH, {}],
  ])('%s: %i %s, and no CRM call', async (_name, status, code, path, headers) => {
    const answer = await download(stack.url, path, headers);
    expect(answer.status).toBe(status);
    expect(answer.json).toMatchObject({ code, message: expect.any(String) });
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('405 for anything but GET', async () => {
    const answer = await download(stack.url, PHOTO_PATH, AUTH, 'DELETE');
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET');
    expect(answer.json).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('404 NO_PHOTO for a record without one', async () => {
    const answer = await download(stack.url, PHOTO_PATH, AUTH);
    expect(answer).toMatchObject({ status: 404, json: { code: 'NO_PHOTO', resolution: expect.stringContaining('uploadRecordPhoto') } });
  });

  it('401 INVALID_TOKEN for a token the CRM refuses', async () => {
    const answer = await download(stack.url, PHOTO_PATH, { authorization: 'Zoho-oauthtoken nonsense' });
    expect(answer).toMatchObject({ status: 401, json: { code: 'INVALID_TOKEN' } });
  });

  it('403 OAUTH_SCOPE_MISMATCH, naming the READ scope, for a token that may only upload', async () => {
    await stack.crm.addToken('upload-only', ['ZohoCRM.modules.leads.CREATE']);
    const answer = await download(stack.url, PHOTO_PATH, { authorization: 'Zoho-oauthtoken upload-only' });
    expect(answer).toMatchObject({ status: 403, json: { code: 'OAUTH_SCOPE_MISMATCH', resolution: expect.stringContaining('ZohoCRM.modules.leads.READ') } });
  });

  it('404 INVALID_DATA for a record the CRM does not have', async () => {
    expect(await download(stack.url, '/photos/Leads/7', AUTH)).toMatchObject({ status: 404, json: { code: 'INVALID_DATA' } });
  });

  it('409 RECORD_LOCKED for a record not approved yet', async () => {
    await stack.crm.addFault({ kind: 'early-reject', status: 400, code: 'RECORD_LOCKED', message: 'not approved yet' });
    expect(await download(stack.url, PHOTO_PATH, AUTH)).toMatchObject({ status: 409, json: { code: 'RECORD_LOCKED' } });
  });

  it("429 TOO_MANY_REQUESTS with the CRM's Retry-After", async () => {
    await stack.crm.addFault({ kind: 'rate-limit', retryAfter: '17' });
    const answer = await download(stack.url, PHOTO_PATH, AUTH);
    expect(answer).toMatchObject({ status: 429, json: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 17 } });
    expect(answer.headers.get('retry-after')).toBe('17');
  });

  it.each([
    ['internal-error', 502, 'INTERNAL_ERROR', { kind: 'internal-error' } as const],
    ['an HTML error page', 502, 'UNEXPECTED_RESPONSE', { kind: 'html', status: 502 } as const],
    ['a 200 that is not an image', 502, 'UNEXPECTED_RESPONSE', { kind: 'respond', status: 200, contentType: 'image/png', body: 'not a picture' } as const],
    ['a CRM that never answers', 504, 'CRM_TIMEOUT', { kind: 'hang' } as const],
  ])('%s: %i %s', async (_name, status, code, fault) => {
    await stack.crm.addFault(fault);
    expect(await download(stack.url, PHOTO_PATH, AUTH)).toMatchObject({ status, json: { code } });
  });

  it("a CRM that echoes the Authorization header has the caller's token masked", async () => {
    await stack.crm.addToken('1000.pass-through-token-abcdef', ['ZohoCRM.modules.ALL']);
    await stack.crm.addFault({ kind: 'echo-authorization', status: 500, code: 'SOMETHING_NEW' });
    const answer = await download(stack.url, PHOTO_PATH, { authorization: 'Bearer 1000.pass-through-token-abcdef' });
    expect(answer).toMatchObject({ status: 502, json: { code: 'UNEXPECTED_RESPONSE' } });
    expect(answer.bytes.toString('utf8')).toContain('[redacted]');
    expect(answer.bytes.toString('utf8')).not.toContain('pass-through-token-abcdef');
  });
});

describe('a CRM out of reach, and the shared CRM limit', () => {
  let other: Stack;
  beforeAll(async () => {
    other = await startStack({ ZOHO_API_DOMAIN: 'http://127.0.0.1:1' });
  });
  afterAll(async () => {
    await other?.close();
  });

  it('502 CRM_UNREACHABLE when the CRM refuses connections', async () => {
    expect(await download(other.url, PHOTO_PATH, AUTH)).toMatchObject({ status: 502, json: { code: 'CRM_UNREACHABLE' } });
  });

  it('a download holds a slot of the one CRM limit: with it taken, the next call is refused at once', async () => {
    const limited = await startStack({ CRM_MAX_CONCURRENCY: '1', CRM_MAX_QUEUE: '0' });
    try {
      expect(resultOf(await uploadPhoto(limited.url, { file: withPadding(png(8, 8), 100_000) })).__typename).toBe('UploadRecordPhotoSuccess');
      await limited.crm.addFault({ kind: 'throttle', chunkBytes: 4_000, intervalMs: 100 });
      const slow = await fetch(new URL(PHOTO_PATH, originOf(limited.url)), { headers: AUTH });
      expect(slow.status).toBe(200);
      expect(limited.gateway.crmLoad().inFlight).toBe(1);
      const busy = await download(limited.url, PHOTO_PATH, AUTH);
      expect(busy).toMatchObject({ status: 429, json: { code: 'TOO_MANY_REQUESTS' } });
      // an upload waits on the same limit
      expect(resultOf(await uploadPhoto(limited.url, { file: png(2, 2), recordId: '1000000000002' })).__typename).toBe('RateLimitedError');
      await slow.body?.cancel();
    } finally {
      await limited.close();
    }
  });

  it("counts downloads in the caller's share of the slots: one caller's slow download does not hold back another's", async () => {
    const shared = await startStack({ CRM_MAX_CONCURRENCY: '4', CRM_MAX_CONCURRENCY_PER_CALLER: '1' });
    try {
      await shared.crm.addToken('second-user', ['ZohoCRM.modules.ALL']);
      expect(resultOf(await uploadPhoto(shared.url, { file: withPadding(png(8, 8), 100_000) })).__typename).toBe('UploadRecordPhotoSuccess');
      await shared.crm.addFault({ kind: 'throttle', chunkBytes: 4_000, intervalMs: 100, times: 1 });
      const slow = await fetch(new URL(PHOTO_PATH, originOf(shared.url)), { headers: AUTH });
      expect(slow.status).toBe(200);
      expect(await download(shared.url, PHOTO_PATH, AUTH)).toMatchObject({ status: 429, json: { code: 'TOO_MANY_REQUESTS' } });
      expect((await download(shared.url, PHOTO_PATH, { authorization: 'Zoho-oauthtoken second-user' })).status).toBe(200);
      await slow.body?.cancel();
    } finally {
      await shared.close();
    }
  });
});
