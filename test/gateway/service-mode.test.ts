import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN } from '../../emulator/accounts.ts';
import { png } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { startStack, type Stack } from '../support/stack.ts';

const API_KEY = 'service-caller-key-0123456789';
const SERVICE_ENV = {
  ZOHO_CLIENT_ID: EMULATOR_CLIENT_ID,
  ZOHO_CLIENT_SECRET: EMULATOR_CLIENT_SECRET,
  ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
  GATEWAY_API_KEYS: API_KEY,
};

// The gateway and the emulator run in this process, so both read this clock: it stands still unless a test moves
// it, and a token's life or a back-off window passes in one step rather than in real seconds.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
  vi.useRealTimers();
});

async function serviceStack(env: Record<string, string> = {}) {
  stack = await startStack({ ...SERVICE_ENV, ...env });
  return stack;
}

function upload(target: Stack, headers: Record<string, string> = { 'x-api-key': API_KEY }, recordId = '1000000000001') {
  const body = multipartBody([...uploadParts({ recordId }), { name: '0', filename: 'a.png', contentType: 'image/png', data: png(6, 6) }]);
  // no caller CRM token: in service mode the gateway brings its own
  return postRaw(target.url, { body, headers: { authorization: '', ...headers } });
}

const typename = (response: Awaited<ReturnType<typeof upload>>) => response.json?.data?.uploadRecordPhoto?.__typename;

describe('service mode', () => {
  it('mints a token from the refresh token and uploads with it', async () => {
    const target = await serviceStack();
    const response = await upload(target);
    expect(typename(response)).toBe('UploadRecordPhotoSuccess');
    const [request] = await target.crm.requests();
    expect(request?.authorization).toMatch(/^Zoho-oauthtoken 1000\.\w+$/);
    expect(request?.authorization).not.toContain('emulator-token');
    expect((await target.crm.tokenRequests()).map((r) => r.outcome)).toEqual(['issued']);
  });

  it('takes the API key as Authorization: Bearer too, and reuses the cached token', async () => {
    const target = await serviceStack();
    expect(typename(await upload(target, { authorization: `Bearer ${API_KEY}` }))).toBe('UploadRecordPhotoSuccess');
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    expect(await target.crm.tokenRequests()).toHaveLength(1);
  });

  it.each([
    ['no API key', {}],
    ['a wrong API key', { 'x-api-key': 'service-caller-key-0123456780' }],
    ['a CRM token instead of a key', { authorization: 'Zoho-oauthtoken emulator-token' }],
  ])('refuses %s with 401, before any CRM or token call', async (_name, headers) => {
    const target = await serviceStack();
    const response = await upload(target, headers);
    expect(response.status).toBe(401);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await target.crm.requests()).toEqual([]);
    expect(await target.crm.tokenRequests()).toEqual([]);
  });

  it('refreshes once for 100 concurrent uploads at expiry', async () => {
    // One API key is one caller: its share of the slots is lifted so all 100 can queue.
    const target = await serviceStack({ CRM_MAX_QUEUE: '200', CRM_MAX_CONCURRENCY_PER_CALLER: '200' });
    await target.crm.accounts({ accessTokenTtlSeconds: 2 });
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    vi.setSystemTime(Date.now() + 2_100);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => upload(target, undefined, String(1_000_000_000_001 + (i % 10)))));
    expect(results.map(typename).every((t) => t === 'UploadRecordPhotoSuccess')).toBe(true);
    expect((await target.crm.tokenRequests()).map((r) => r.outcome)).toEqual(['issued', 'issued']);
  });

  it('a refused refresh answers AuthenticationError and backs off before trying again', async () => {
    const target = await serviceStack();
    await target.crm.revokeRefreshToken(EMULATOR_REFRESH_TOKEN);
    const first = await upload(target);
    expect(first.json?.data?.uploadRecordPhoto).toMatchObject({
      __typename: 'AuthenticationError',
      code: 'AUTHENTICATION_FAILURE',
      message: expect.stringContaining('invalid_code'),
    });
    expect(typename(await upload(target))).toBe('AuthenticationError');
    // the second upload came inside the back-off window: no second call to the accounts server
    expect((await target.crm.tokenRequests()).map((r) => r.outcome)).toEqual(['invalid_code']);
    // once the first back-off (1 s) has passed, the next upload tries again
    vi.setSystemTime(Date.now() + 1_000);
    expect(typename(await upload(target))).toBe('AuthenticationError');
    expect((await target.crm.tokenRequests()).map((r) => r.outcome)).toEqual(['invalid_code', 'invalid_code']);
    expect(await target.crm.requests()).toEqual([]);
    expect(JSON.stringify(first.json)).not.toContain(EMULATOR_REFRESH_TOKEN);
    expect(JSON.stringify(first.json)).not.toContain(EMULATOR_CLIENT_SECRET);
  });

  it('the CRM answering INVALID_TOKEN drops the cached token, so the next upload refreshes', async () => {
    const target = await serviceStack();
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    const token = (await target.crm.requests())[0]!.authorization!.replace('Zoho-oauthtoken ', '');
    await target.crm.expireToken(token);
    expect((await upload(target)).json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'AuthenticationError', code: 'INVALID_TOKEN' });
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    expect((await target.crm.tokenRequests()).map((r) => r.outcome)).toEqual(['issued', 'issued']);
  });

  it('the accounts server refusing to mint more tokens is an AuthenticationError', async () => {
    const target = await serviceStack();
    await target.crm.accounts({ maxTokensPerWindow: 0 });
    expect((await upload(target)).json?.data?.uploadRecordPhoto).toMatchObject({
      __typename: 'AuthenticationError',
      code: 'AUTHENTICATION_FAILURE',
      message: expect.stringContaining('too many requests'),
    });
  });
});

describe('service mode token renewal', () => {
  it('renews a token before it expires, so no upload goes out with a token about to run out', async () => {
    const target = await serviceStack();
    await target.crm.accounts({ accessTokenTtlSeconds: 3 });
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    // past nine tenths of its life, not yet expired
    vi.setSystemTime(Date.now() + 2_800);
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    const tokens = new Set((await target.crm.requests()).map((r) => r.authorization));
    expect(tokens.size).toBe(2);
    expect((await target.crm.tokenRequests()).map((r) => r.outcome)).toEqual(['issued', 'issued']);
  });

  it('keeps using a still-valid token when its renewal fails', async () => {
    const target = await serviceStack();
    await target.crm.accounts({ accessTokenTtlSeconds: 3 });
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    await target.crm.revokeRefreshToken(EMULATOR_REFRESH_TOKEN);
    vi.setSystemTime(Date.now() + 2_800);
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    expect((await target.crm.tokenRequests()).map((r) => r.outcome)).toEqual(['issued', 'invalid_code']);
  });
});

describe('service mode: what the accounts server and the CRM say is not trusted blindly', () => {
  const tokenAnswer = (accessToken: string) =>
    JSON.stringify({ access_token: accessToken, scope: 'ZohoCRM.modules.ALL', api_domain: 'http://emulator.invalid', token_type: 'Bearer', expires_in: 3600 });

  it.each([
    ['CR/LF', '1000.abc\r\nX-Injected: 1'],
    ['a space', '1000.abc def'],
    ['non-Latin-1 letters', '1000.tök€n'],
  ])('an access token with %s is refused before it is cached: AuthenticationError, then a fresh token after the back-off', async (_name, bad) => {
    const target = await serviceStack();
    await target.crm.addFault({ kind: 'respond', target: 'accounts', status: 200, body: tokenAnswer(bad) });
    const first = await upload(target);
    expect(first.json?.data?.uploadRecordPhoto).toMatchObject({
      __typename: 'AuthenticationError',
      code: 'AUTHENTICATION_FAILURE',
      message: expect.stringContaining('cannot be sent in a header'),
    });
    expect(JSON.stringify(first.json)).not.toContain('1000.abc');
    expect(JSON.stringify(first.json)).not.toContain('tök€n');
    // nothing went to the CRM with it, and it was not kept: once the back-off has passed, a good token is minted
    expect(await target.crm.requests()).toEqual([]);
    vi.setSystemTime(Date.now() + 1_000);
    expect(typename(await upload(target))).toBe('UploadRecordPhotoSuccess');
    expect(await target.crm.tokenRequests()).toHaveLength(2);
  });

  it('an endless answer from the accounts server is cut off, not read into memory', async () => {
    const target = await serviceStack({ CRM_RESPONSE_TIMEOUT_MS: '5000' });
    await target.crm.addFault({ kind: 'endless-answer', target: 'accounts' });
    const started = performance.now();
    expect((await upload(target)).json?.data?.uploadRecordPhoto).toMatchObject({
      __typename: 'AuthenticationError',
      code: 'AUTHENTICATION_FAILURE',
      message: expect.stringContaining('more than 65536 bytes'),
    });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("a CRM that echoes the Authorization header does not hand the organisation's token to the API-key caller", async () => {
    const target = await serviceStack();
    await target.crm.addFault({ kind: 'echo-authorization' });
    const response = await upload(target);
    const sent = (await target.crm.requests())[0]!.authorization!;
    const token = sent.replace('Zoho-oauthtoken ', '');
    expect(response.json?.data?.uploadRecordPhoto).toMatchObject({
      __typename: 'InvalidRecordError',
      code: 'INVALID_DATA',
      message: expect.stringContaining('[redacted]'),
    });
    expect(response.text).not.toContain(token);
  });
});
