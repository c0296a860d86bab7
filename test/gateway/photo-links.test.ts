import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN } from '../../emulator/accounts.ts';
import { png } from '../fixtures/images.ts';
import { download, photoUrlOf } from '../support/photo-routes.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { UPLOAD_MUTATION } from '../support/upload-client.ts';

const API_KEY = 'service-caller-key-0123456789';
const KEY = { 'x-api-key': API_KEY };
const SERVICE_ENV = {
  ZOHO_CLIENT_ID: EMULATOR_CLIENT_ID,
  ZOHO_CLIENT_SECRET: EMULATOR_CLIENT_SECRET,
  ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
  GATEWAY_API_KEYS: API_KEY,
};
const SECRET = 'photo-link-secret-for-tests-0123456789';
const photo = png(12, 9);

// The gateway and the emulator run in this process and read this clock: a link expires in one step, not in real time.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** The upload mutation with `headers` only (service mode: the key; pass-through: the CRM token). */
async function uploadAs(stack: Stack, recordId: string, headers: Record<string, string>) {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: UPLOAD_MUTATION, variables: { module: 'LEADS', recordId, file: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([photo], { type: 'image/png' }), 'photo.png');
  const response = await fetch(stack.url, { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true', ...headers } });
  const body = (await response.json()) as { data?: { uploadRecordPhoto?: { __typename: string } } };
  expect(body.data?.uploadRecordPhoto?.__typename).toBe('UploadRecordPhotoSuccess');
}

describe('service mode with PHOTO_URL_SECRET: signed links', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ...SERVICE_ENV, PHOTO_URL_SECRET: SECRET, PHOTO_URL_TTL_SECONDS: '600' });
  });
  afterAll(async () => {
    await stack?.close();
  });
  // No emulator reset between tests: it would void the token the gateway holds.
  const photoCalls = async () => (await stack.crm.requests()).filter((r) => r.path.endsWith('/photo') && r.method === 'GET');

  it('gives a url with v, exp and sig that serves the photo with no header at all', async () => {
    await uploadAs(stack, '1000000000001', KEY);
    const url = await photoUrlOf(stack.url, '1000000000001', KEY);
    expect(url).toMatch(/^\/photos\/Leads\/1000000000001\?v=[0-9a-f]+&exp=\d+&sig=[\w-]{43}$/);
    const answer = await download(stack.url, url!);
    expect(answer.status).toBe(200);
    expect(answer.bytes.equals(Buffer.from(photo))).toBe(true);
    expect(answer.headers.get('content-type')).toBe('image/png');
    // cached no longer than the link lives: between one and two TTLs
    const maxAge = Number(/max-age=(\d+)/.exec(answer.headers.get('cache-control') ?? '')?.[1]);
    expect(answer.headers.get('cache-control')).toMatch(/^private, max-age=\d+, immutable$/);
    expect(maxAge).toBeGreaterThan(600);
    expect(maxAge).toBeLessThanOrEqual(1200);
    // the CRM saw the gateway's own token
    const call = (await photoCalls()).at(-1);
    expect(call?.authorization).toMatch(/^Zoho-oauthtoken 1000\./);
  });

  it('refuses a link whose version, expiry or signature was changed: 403 PHOTO_LINK_INVALID, no CRM call', async () => {
    await uploadAs(stack, '1000000000001', KEY);
    const url = new URL((await photoUrlOf(stack.url, '1000000000001', KEY))!, 'http://x');
    const before = (await stack.crm.requests()).length;
    const variants = [
      ['v', `${url.searchParams.get('v')}0`],
      ['exp', String(Number(url.searchParams.get('exp')) + 600)],
      ['sig', `${url.searchParams.get('sig')![0] === 'A' ? 'B' : 'A'}${url.searchParams.get('sig')!.slice(1)}`],
    ] as const;
    for (const [name, value] of variants) {
      const tampered = new URL(url);
      tampered.searchParams.set(name, value);
      const answer = await download(stack.url, `${tampered.pathname}${tampered.search}`);
      expect(answer.status, name).toBe(403);
      expect(answer.json, name).toMatchObject({ code: 'PHOTO_LINK_INVALID' });
    }
    const withoutV = new URL(url);
    withoutV.searchParams.delete('v');
    expect((await download(stack.url, `${withoutV.pathname}${withoutV.search}`)).json).toMatchObject({ code: 'PHOTO_LINK_INVALID' });
    expect(await stack.crm.requests()).toHaveLength(before);
  });

  it("refuses a valid signature on another record's path: 403", async () => {
    await uploadAs(stack, '1000000000001', KEY);
    await uploadAs(stack, '1000000000002', KEY);
    const first = new URL((await photoUrlOf(stack.url, '1000000000001', KEY))!, 'http://x');
    const answer = await download(stack.url, `/photos/Leads/1000000000002${first.search}`);
    expect(answer).toMatchObject({ status: 403, json: { code: 'PHOTO_LINK_INVALID' } });
    const otherModule = await download(stack.url, `/photos/Contacts/1000000000001${first.search}`);
    expect(otherModule).toMatchObject({ status: 403, json: { code: 'PHOTO_LINK_INVALID' } });
  });

  it('refuses a link once it has expired: 403 PHOTO_LINK_EXPIRED', async () => {
    await uploadAs(stack, '1000000000001', KEY);
    const url = (await photoUrlOf(stack.url, '1000000000001', KEY))!;
    expect((await download(stack.url, url)).status).toBe(200);
    vi.setSystemTime(Date.now() + 1_201_000);
    expect(await download(stack.url, url)).toMatchObject({
      status: 403,
      json: { code: 'PHOTO_LINK_EXPIRED', resolution: expect.stringContaining('RecordPhoto.url') },
    });
  });

  it('still takes the API key instead of a signature, and wants one or the other', async () => {
    await uploadAs(stack, '1000000000001', KEY);
    expect((await download(stack.url, '/photos/Leads/1000000000001', KEY)).status).toBe(200);
    expect((await download(stack.url, '/photos/Leads/1000000000001', { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
    const bare = await download(stack.url, '/photos/Leads/1000000000001');
    expect(bare).toMatchObject({ status: 401, json: { code: 'UNAUTHENTICATED' } });
    expect(bare.headers.get('www-authenticate')).toBe('Bearer');
    const wrongKey = await download(stack.url, '/photos/Leads/1000000000001', { 'x-api-key': 'not-the-key-0123456789' });
    expect(wrongKey).toMatchObject({ status: 401, json: { code: 'UNAUTHENTICATED' } });
  });

  it('never takes the caller\'s Authorization as a CRM token in service mode', async () => {
    await uploadAs(stack, '1000000000001', KEY);
    expect((await download(stack.url, '/photos/Leads/1000000000001', { ...KEY, authorization: 'Zoho-oauthtoken emulator-token' })).status).toBe(200);
    expect((await photoCalls()).at(-1)?.authorization).toMatch(/^Zoho-oauthtoken 1000\./);
  });
});

describe('without PHOTO_URL_SECRET, and in pass-through mode, links are not signed', () => {
  it('service mode without the secret: url needs the key', async () => {
    const stack = await startStack(SERVICE_ENV);
    try {
      await uploadAs(stack, '1000000000001', KEY);
      const url = (await photoUrlOf(stack.url, '1000000000001', KEY))!;
      expect(url).toMatch(/^\/photos\/Leads\/1000000000001\?v=[0-9a-f]+$/);
      expect((await download(stack.url, url)).status).toBe(401);
      expect((await download(stack.url, url, KEY)).status).toBe(200);
    } finally {
      await stack.close();
    }
  });

  it('pass-through: url never signed, a sig in the query is no credential', async () => {
    const stack = await startStack({});
    try {
      await uploadAs(stack, '1000000000001', { authorization: 'Zoho-oauthtoken emulator-token' });
      const url = (await photoUrlOf(stack.url, '1000000000001'))!;
      expect(url).not.toContain('sig=');
      expect(await download(stack.url, `${url}&exp=9999999999&sig=${'A'.repeat(43)}`)).toMatchObject({ status: 401, json: { code: 'MISSING_CREDENTIALS' } });
    } finally {
      await stack.close();
    }
  });
});
