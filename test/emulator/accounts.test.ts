import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN, TOKEN_PATH } from '../../emulator/accounts.ts';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { agent, control, toAnswer, upload, waitFor, type Answer } from './helpers.ts';

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator();
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

/**
 * The emulator runs in this process and reads its time from Date: for the rest of the test, Date stands still
 * unless the test moves it (vi.setSystemTime), so token lives and minting windows pass without real waiting.
 */
function useStillClock(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  onTestFinished(() => {
    vi.useRealTimers();
  });
}

const SEEDED = {
  grant_type: 'refresh_token',
  client_id: EMULATOR_CLIENT_ID,
  client_secret: EMULATOR_CLIENT_SECRET,
  refresh_token: EMULATOR_REFRESH_TOKEN,
} as const;

const ACCESS_DENIED = {
  error: 'Access Denied',
  error_description: 'You have made too many requests continuously. Please try again after some time.',
  status: 'failure',
};

interface TokenOptions {
  /** Where the parameters go: the query string (default) or an x-www-form-urlencoded body. */
  via?: 'query' | 'form';
  method?: string;
  body?: string;
  contentType?: string;
  signal?: AbortSignal;
}

/** Calls the token endpoint with exactly `params` (no defaults), over real HTTP. */
async function tokenCall(params: Record<string, string>, options: TokenOptions = {}): Promise<Answer> {
  const encoded = new URLSearchParams(params).toString();
  const via = options.via ?? 'query';
  const path = via === 'query' && encoded !== '' ? `${TOKEN_PATH}?${encoded}` : TOKEN_PATH;
  const headers: Record<string, string> = {};
  let body = options.body;
  if (via === 'form') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body ??= encoded;
  }
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  const response = await request(`${emulator.origin}${path}`, {
    method: (options.method ?? 'POST') as 'POST',
    headers,
    body,
    dispatcher: agent,
    signal: options.signal,
  });
  return toAnswer(response);
}

/** Mints a token with the given parameters and returns it (fails the test when none is issued). */
async function mint(params: Record<string, string> = SEEDED, options: TokenOptions = {}): Promise<string> {
  const answer = await tokenCall(params, options);
  expect(answer.status).toBe(200);
  const token = (answer.json as { access_token?: unknown }).access_token;
  if (typeof token !== 'string') throw new Error(`no token issued: ${answer.text}`);
  return token;
}

function auth(token: string): string {
  return `Zoho-oauthtoken ${token}`;
}

async function addRefreshToken(body: Record<string, unknown>): Promise<Answer> {
  return control(emulator.origin, 'POST', 'refresh-tokens', body);
}

function outcomes(): string[] {
  return emulator.state.tokenRequests.map((entry) => entry.outcome);
}

describe('minting an access token', () => {
  it('answers the seeded client with a Bearer token for the emulator origin that the photo endpoint accepts', async () => {
    const before = Date.now();
    const answer = await tokenCall(SEEDED);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.json).toEqual({
      access_token: expect.stringMatching(/^1000\.[0-9a-f]{64}$/),
      api_domain: emulator.origin,
      token_type: 'Bearer',
      expires_in: 3600,
    });
    expect(Object.keys(answer.json as object)).toEqual(['access_token', 'api_domain', 'token_type', 'expires_in']);
    const token = (answer.json as { access_token: string }).access_token;
    expect(emulator.state.token(token)).toEqual({ token, scopes: ['ZohoCRM.modules.ALL'], permission: 'granted' });
    const expiresAt = emulator.state.tokenExpiresAt(token)!;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);

    const uploaded = await upload(emulator.origin, { authorization: auth(token), module: 'Deals' });
    expect(uploaded.status).toBe(200);
    expect(uploaded.json).toMatchObject({ code: 'SUCCESS' });
    expect(emulator.state.photo('Deals', '1000000000001')).toBeDefined();
  });

  it('takes its parameters from a form body too, and mints a different token each time', async () => {
    const fromForm = await mint(SEEDED, { via: 'form' });
    const fromQuery = await mint(SEEDED);
    expect(fromForm).not.toBe(fromQuery);
    expect((await upload(emulator.origin, { authorization: auth(fromForm) })).status).toBe(200);
    expect((await upload(emulator.origin, { authorization: auth(fromQuery) })).status).toBe(200);
    expect(outcomes()).toEqual(['issued', 'issued']);
  });

  it('combines query and body parameters', async () => {
    const { client_secret, refresh_token, ...inQuery } = SEEDED;
    const answer = await tokenCall(inQuery, {
      body: new URLSearchParams({ client_secret, refresh_token }).toString(),
      contentType: 'application/x-www-form-urlencoded; charset=UTF-8',
    });
    expect(answer.json).toMatchObject({ token_type: 'Bearer' });
  });

  it('ignores a body that is not a form', async () => {
    const answer = await tokenCall({}, { body: JSON.stringify(SEEDED), contentType: 'application/json' });
    expect(answer).toMatchObject({ status: 200, json: { error: 'unsupported_grant_type' } });
  });

  it('gives a minted token the scopes and permission of its refresh token', async () => {
    await addRefreshToken({ refreshToken: 'contacts-refresh', clientId: 'c2', clientSecret: 's2', scopes: ['ZohoCRM.modules.contacts.CREATE'] });
    await addRefreshToken({ refreshToken: 'no-perm-refresh', clientId: 'c2', clientSecret: 's2', scopes: ['ZohoCRM.modules.ALL'], permission: 'no-permission' });
    const contacts = await mint({ ...SEEDED, client_id: 'c2', client_secret: 's2', refresh_token: 'contacts-refresh' });
    const noPermission = await mint({ ...SEEDED, client_id: 'c2', client_secret: 's2', refresh_token: 'no-perm-refresh' });
    expect((await upload(emulator.origin, { authorization: auth(contacts), module: 'Contacts' })).status).toBe(200);
    expect((await upload(emulator.origin, { authorization: auth(contacts) })).json).toMatchObject({ code: 'OAUTH_SCOPE_MISMATCH' });
    expect((await upload(emulator.origin, { authorization: auth(noPermission) })).json).toMatchObject({ code: 'NO_PERMISSION' });
  });

  it('leaves the API request log alone: token calls go to the token log only', async () => {
    await mint();
    await tokenCall({ ...SEEDED, client_secret: 'wrong' });
    expect(emulator.state.requests).toEqual([]);
    expect((await control(emulator.origin, 'GET', 'requests')).json).toEqual([]);
    expect(emulator.state.tokenRequests).toHaveLength(2);
  });
});

describe('refusals, as the accounts server answers them', () => {
  const { grant_type: _grantType, ...noGrantType } = SEEDED;
  it.each([
    ['grant_type authorization_code', { ...SEEDED, grant_type: 'authorization_code' }],
    ['grant_type in upper case', { ...SEEDED, grant_type: 'REFRESH_TOKEN' }],
    ['no grant_type', noGrantType],
    ['nothing at all', {}],
  ])('%s → 200 unsupported_grant_type', async (_name, params: Record<string, string>) => {
    const answer = await tokenCall(params);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.json).toEqual({ error: 'unsupported_grant_type' });
    expect(outcomes()).toEqual(['unsupported_grant_type']);
  });

  const { client_secret: _secret, ...noSecret } = SEEDED;
  const { client_id: _id, ...noClient } = SEEDED;
  it.each([
    ['an unknown client', { ...SEEDED, client_id: 'someone-else' }],
    ['a wrong secret', { ...SEEDED, client_secret: 'emulator-secreT' }],
    ['no secret', noSecret],
    ['no client id', noClient],
    ['a wrong secret and an unknown refresh token', { ...SEEDED, client_secret: 'nope', refresh_token: 'nope' }],
  ])('%s → 200 invalid_client', async (_name, params: Record<string, string>) => {
    const answer = await tokenCall(params, { via: 'form' });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ error: 'invalid_client' });
    expect(outcomes()).toEqual(['invalid_client']);
  });

  const { refresh_token: _refresh, ...noRefresh } = SEEDED;
  it.each([
    ['an unknown refresh token', { ...SEEDED, refresh_token: 'emulator-refresh-tokens' }],
    ['no refresh token', noRefresh],
    ["another client's refresh token", { ...SEEDED, refresh_token: 'other-refresh' }],
  ])('%s → 200 invalid_code', async (_name, params: Record<string, string>) => {
    emulator.state.addRefreshToken({ refreshToken: 'other-refresh', clientId: 'other', clientSecret: 'other-secret', scopes: [] });
    const answer = await tokenCall(params);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ error: 'invalid_code' });
    expect(outcomes()).toEqual(['invalid_code']);
  });

  it('answers 405 invalid_request to a method other than POST, and logs it', async () => {
    const answer = await tokenCall(SEEDED, { method: 'GET' });
    expect(answer.status).toBe(405);
    expect(answer.headers['allow']).toBe('POST');
    expect(answer.json).toEqual({ error: 'invalid_request', error_description: 'GET is not allowed; use POST' });
    expect(emulator.state.tokenRequests).toEqual([expect.objectContaining({ method: 'GET', outcome: 'invalid_request' })]);
  });

  it('answers 413 invalid_request to a body over 64 KiB', async () => {
    const answer = await tokenCall(SEEDED, { body: 'x'.repeat(64 * 1024 + 1), contentType: 'application/x-www-form-urlencoded' });
    expect(answer.status).toBe(413);
    expect(answer.json).toMatchObject({ error: 'invalid_request' });
    expect(outcomes()).toEqual(['invalid_request']);
  });

  it('mints nothing for a refused call', async () => {
    await tokenCall({ ...SEEDED, client_secret: 'wrong' });
    await tokenCall({ ...SEEDED, refresh_token: 'wrong' });
    expect(emulator.state.tokenRequests.every((entry) => entry.accessTokenHint === null)).toBe(true);
    // The limit counts minted tokens only: a full quota is still there.
    emulator.state.configureAccounts({ maxTokensPerWindow: 1 });
    await mint();
  });
});

describe('expiry', () => {
  it('expires a minted token after expires_in seconds: the CRM then answers 401 INVALID_TOKEN', async () => {
    useStillClock();
    expect((await control(emulator.origin, 'POST', 'accounts', { accessTokenTtlSeconds: 1 })).status).toBe(200);
    const mintedAt = Date.now();
    const answer = await tokenCall(SEEDED);
    expect(answer.json).toMatchObject({ expires_in: 1 });
    const token = (answer.json as { access_token: string }).access_token;
    expect((await upload(emulator.origin, { authorization: auth(token) })).status).toBe(200);

    const expiresAt = emulator.state.tokenExpiresAt(token)!;
    expect(expiresAt).toBe(mintedAt + 1_000);
    vi.setSystemTime(expiresAt - 1);
    expect((await upload(emulator.origin, { authorization: auth(token) })).status).toBe(200);
    vi.setSystemTime(expiresAt);
    const expired = await upload(emulator.origin, { authorization: auth(token) });
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ code: 'INVALID_TOKEN', details: {}, message: 'invalid oauth token', status: 'error' });
    expect(emulator.state.token(token)).toBeUndefined();
    // The refresh token mints a fresh one.
    expect((await upload(emulator.origin, { authorization: auth(await mint()) })).status).toBe(200);
  });

  it('expires one access token on demand through the control API, leaving the others', async () => {
    const first = await mint();
    const second = await mint();
    expect((await control(emulator.origin, 'POST', 'tokens/expire', { token: first })).json).toEqual({ ok: true });
    const expired = await upload(emulator.origin, { authorization: auth(first) });
    expect(expired.status).toBe(401);
    expect(expired.json).toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await upload(emulator.origin, { authorization: auth(second) })).status).toBe(200);
    expect((await upload(emulator.origin)).status).toBe(200);
  });

  it('can expire the demo token and any added token; reset brings the demo token back', async () => {
    emulator.state.addToken({ token: 'added', scopes: ['ZohoCRM.modules.ALL'] });
    await control(emulator.origin, 'POST', 'tokens/expire', { token: 'emulator-token' });
    emulator.state.expireToken('added');
    expect((await upload(emulator.origin)).json).toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await upload(emulator.origin, { authorization: auth('added') })).json).toMatchObject({ code: 'INVALID_TOKEN' });
    // Adding a token again makes it live, without expiry.
    emulator.state.addToken({ token: 'added', scopes: ['ZohoCRM.modules.ALL'] });
    expect((await upload(emulator.origin, { authorization: auth('added') })).status).toBe(200);
    expect(emulator.state.tokenExpiresAt('added')).toBeUndefined();
    await control(emulator.origin, 'POST', 'reset');
    expect((await upload(emulator.origin)).status).toBe(200);
  });

  it('refuses to expire an unknown or already expired token, without echoing it', async () => {
    const token = await mint();
    emulator.state.expireToken(token);
    const again = await control(emulator.origin, 'POST', 'tokens/expire', { token });
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ error: `no live token "1000…"` });
    expect(again.text).not.toContain(token);
    const unknown = await control(emulator.origin, 'POST', 'tokens/expire', { token: 'never-issued' });
    expect(unknown).toMatchObject({ status: 400, json: { error: 'no live token "neve…"' } });
    expect((await control(emulator.origin, 'POST', 'tokens/expire', {})).status).toBe(400);
    expect((await control(emulator.origin, 'POST', 'tokens/expire', { token, extra: 1 })).json).toEqual({
      error: `unknown field 'extra' (expected token)`,
    });
  });
});

describe('the minting limit per refresh token', () => {
  it('mints 10 tokens in a window by default, then answers 400 Access Denied', async () => {
    for (let i = 0; i < 10; i++) await mint();
    const refused = await tokenCall(SEEDED);
    expect(refused.status).toBe(400);
    expect(refused.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(refused.json).toEqual(ACCESS_DENIED);
    expect(await tokenCall(SEEDED, { via: 'form' })).toMatchObject({ status: 400, json: ACCESS_DENIED });
    expect(outcomes()).toEqual([...Array<string>(10).fill('issued'), 'rate_limited', 'rate_limited']);
    expect(emulator.state.tokenRequests.at(-1)?.accessTokenHint).toBeNull();
  });

  it('counts each refresh token on its own', async () => {
    emulator.state.configureAccounts({ maxTokensPerWindow: 2 });
    emulator.state.addRefreshToken({ refreshToken: 'second-refresh', clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, scopes: [] });
    await mint();
    await mint();
    expect((await tokenCall(SEEDED)).json).toEqual(ACCESS_DENIED);
    await mint({ ...SEEDED, refresh_token: 'second-refresh' });
  });

  it('checks the client and the refresh token before the limit', async () => {
    emulator.state.configureAccounts({ maxTokensPerWindow: 0 });
    expect((await tokenCall({ ...SEEDED, client_secret: 'x' })).json).toEqual({ error: 'invalid_client' });
    expect((await tokenCall({ ...SEEDED, refresh_token: 'x' })).json).toEqual({ error: 'invalid_code' });
    expect((await tokenCall(SEEDED)).json).toEqual(ACCESS_DENIED);
  });

  it('slides: a token minted windowSeconds ago or earlier no longer counts', async () => {
    useStillClock();
    const settings = await control(emulator.origin, 'POST', 'accounts', { maxTokensPerWindow: 2, windowSeconds: 1 });
    expect(settings.json).toEqual({ ok: true, settings: { accessTokenTtlSeconds: 3600, maxTokensPerWindow: 2, windowSeconds: 1 } });
    const start = Date.now();
    await mint();
    vi.setSystemTime(start + 500);
    await mint();
    expect((await tokenCall(SEEDED)).status).toBe(400);
    // The first mint leaves the window 1 s after it happened, not a millisecond sooner; the second one still counts.
    vi.setSystemTime(start + 999);
    expect((await tokenCall(SEEDED)).status).toBe(400);
    vi.setSystemTime(start + 1_000);
    await mint();
    expect((await tokenCall(SEEDED)).status).toBe(400);
    // Refused calls did not count: once the window has passed both mints, two more are allowed.
    vi.setSystemTime(start + 2_000);
    await mint();
    await mint();
    expect(outcomes()).toEqual(['issued', 'issued', 'rate_limited', 'rate_limited', 'issued', 'rate_limited', 'issued', 'issued']);
    expect(emulator.state.tokenRequests.map((entry) => entry.at - start)).toEqual([0, 500, 500, 999, 1_000, 1_000, 2_000, 2_000]);
  });

  it('keeps tokens minted before the limit was reached working', async () => {
    emulator.state.configureAccounts({ maxTokensPerWindow: 1 });
    const token = await mint();
    expect((await tokenCall(SEEDED)).status).toBe(400);
    expect((await upload(emulator.origin, { authorization: auth(token) })).status).toBe(200);
  });
});

describe('revocation', () => {
  it('answers invalid_code for a revoked refresh token; tokens it minted live until they expire', async () => {
    const token = await mint();
    expect((await control(emulator.origin, 'POST', 'refresh-tokens/revoke', { refreshToken: EMULATOR_REFRESH_TOKEN })).json).toEqual({ ok: true });
    expect(await tokenCall(SEEDED)).toMatchObject({ status: 200, json: { error: 'invalid_code' } });
    expect((await upload(emulator.origin, { authorization: auth(token) })).status).toBe(200);
    // Other refresh tokens of the same client still work.
    emulator.state.addRefreshToken({ refreshToken: 'fresh', clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, scopes: ['ZohoCRM.modules.ALL'] });
    await mint({ ...SEEDED, refresh_token: 'fresh' });
    expect(outcomes()).toEqual(['issued', 'invalid_code', 'issued']);
  });

  it('refuses to revoke an unknown refresh token, naming only its hint', async () => {
    const answer = await control(emulator.origin, 'POST', 'refresh-tokens/revoke', { refreshToken: 'no-such-refresh-token' });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: 'unknown refresh token "no-s…"' });
    expect((await control(emulator.origin, 'POST', 'refresh-tokens/revoke', {})).status).toBe(400);
    expect(() => emulator.state.revokeRefreshToken('nope')).toThrow(/unknown refresh token "no…"/);
  });

  it('re-adding a revoked refresh token makes it live again', async () => {
    emulator.state.revokeRefreshToken(EMULATOR_REFRESH_TOKEN);
    await addRefreshToken({ refreshToken: EMULATOR_REFRESH_TOKEN, clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, scopes: ['ZohoCRM.modules.ALL'] });
    await mint();
  });
});

describe('faults on the token endpoint (target: accounts)', () => {
  it('internal-error answers 500 in the accounts JSON shape, mints nothing, and the next call succeeds', async () => {
    const added = await control(emulator.origin, 'POST', 'faults', { kind: 'internal-error', target: 'accounts' });
    expect(added.json).toEqual({ ok: true, fault: { kind: 'internal-error', target: 'accounts', id: expect.any(Number), remaining: 1 } });
    const answer = await tokenCall(SEEDED, { via: 'form' });
    expect(answer.status).toBe(500);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.json).toEqual({ error: 'internal_error', error_description: 'Internal Server Error', status: 'failure' });
    await waitFor(() => emulator.state.tokenRequests.length === 1, 2000, 'the log entry');
    expect(emulator.state.tokenRequests[0]).toMatchObject({
      outcome: 'faulted',
      fault: 'internal-error',
      clientId: EMULATOR_CLIENT_ID,
      refreshTokenHint: 'emul…',
      accessTokenHint: null,
    });
    await mint();
  });

  it('html answers an HTML error page (502 by default, or the given status)', async () => {
    emulator.state.addFault({ kind: 'html', target: 'accounts' });
    emulator.state.addFault({ kind: 'html', target: 'accounts', status: 503, body: '<p>maintenance</p>' });
    const first = await tokenCall(SEEDED);
    expect(first.status).toBe(502);
    expect(first.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(first.text).toContain('<title>502 Bad Gateway</title>');
    expect(first.json).toBeUndefined();
    expect(await tokenCall(SEEDED)).toMatchObject({ status: 503, text: '<p>maintenance</p>' });
    await mint();
  });

  it('hang reads the call and never answers; nothing is minted', async () => {
    emulator.state.addFault({ kind: 'hang', target: 'accounts' });
    await expect(tokenCall(SEEDED, { via: 'form', signal: AbortSignal.timeout(300) })).rejects.toThrow();
    await waitFor(() => emulator.state.tokenRequests.length === 1, 2000, 'the log entry');
    expect(emulator.state.tokenRequests[0]).toMatchObject({ outcome: 'faulted', fault: 'hang', refreshTokenHint: 'emul…' });
    expect(emulator.state.faults).toEqual([]);
    await mint();
  });

  it('latency delays an otherwise normal answer', async () => {
    emulator.state.addFault({ kind: 'latency', target: 'accounts', delayMs: 300 });
    const started = Date.now();
    await mint();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(emulator.state.tokenRequests[0]).toMatchObject({ outcome: 'issued', fault: 'latency' });
    const quick = Date.now();
    await mint();
    expect(Date.now() - quick).toBeLessThan(290);
  });

  it('latency also delays a refusal', async () => {
    emulator.state.addFault({ kind: 'latency', target: 'accounts', delayMs: 200 });
    const started = Date.now();
    expect((await tokenCall({ ...SEEDED, client_secret: 'x' })).json).toEqual({ error: 'invalid_client' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('rate-limit answers 400 Access Denied whatever the count', async () => {
    emulator.state.addFault({ kind: 'rate-limit', target: 'accounts', times: 2 });
    expect(await tokenCall(SEEDED)).toMatchObject({ status: 400, json: ACCESS_DENIED });
    expect((await tokenCall(SEEDED)).headers['retry-after']).toBeUndefined();
    await mint();
  });

  it('reset-mid-body drops the connection without an answer', async () => {
    emulator.state.addFault({ kind: 'reset-mid-body', target: 'accounts', afterBytes: 0 });
    await expect(tokenCall(SEEDED, { via: 'form' })).rejects.toThrow();
    await waitFor(() => emulator.state.tokenRequests.length === 1, 2000, 'the log entry');
    expect(emulator.state.tokenRequests[0]).toMatchObject({ outcome: 'faulted', fault: 'reset-mid-body' });
  });

  it('respond and empty-body send what they are told', async () => {
    emulator.state.addFault({ kind: 'respond', target: 'accounts', status: 200, body: '{"error":"invalid_client"}' });
    emulator.state.addFault({ kind: 'empty-body', target: 'accounts' });
    expect(await tokenCall(SEEDED)).toMatchObject({ status: 200, json: { error: 'invalid_client' } });
    expect(await tokenCall(SEEDED)).toMatchObject({ status: 200, text: '' });
  });

  it('keeps API faults and accounts faults apart', async () => {
    emulator.state.addFault({ kind: 'internal-error' }); // no target: the API
    emulator.state.addFault({ kind: 'html', target: 'accounts' });
    expect((await tokenCall(SEEDED)).status).toBe(502);
    await mint();
    expect(emulator.state.faults).toEqual([expect.objectContaining({ kind: 'internal-error' })]);
    expect((await upload(emulator.origin)).status).toBe(500);
    expect((await upload(emulator.origin)).status).toBe(200);
  });

  it('an explicit target api behaves like no target', async () => {
    emulator.state.addFault({ kind: 'internal-error', target: 'api', match: { module: 'Leads' } });
    await mint();
    expect((await upload(emulator.origin)).status).toBe(500);
  });

  it('applies a fault with times 0 to every call until reset', async () => {
    emulator.state.addFault({ kind: 'internal-error', target: 'accounts', times: 0 });
    expect((await tokenCall(SEEDED)).status).toBe(500);
    expect((await tokenCall(SEEDED)).status).toBe(500);
    await control(emulator.origin, 'POST', 'reset');
    await mint();
  });

  it.each([
    [{ kind: 'internal-error', target: 'oauth' }, `fault field 'target' must be one of api, accounts, got "oauth"`],
    [{ kind: 'internal-error', target: 7 }, `fault field 'target' must be one of api, accounts, got 7`],
    [{ kind: 'early-reject', target: 'accounts' }, `fault kind 'early-reject' does not apply to target 'accounts' (allowed: latency, internal-error, rate-limit, hang, reset-mid-body, html, empty-body, respond, trickle-answer, endless-answer)`],
    [{ kind: 'hang', target: 'accounts', match: { module: 'Leads' } }, `fault field 'match' does not apply to target 'accounts'`],
    [{ kind: 'rate-limit', target: 'accounts', retryAfter: '5' }, `fault field 'retryAfter' does not apply to target 'accounts'`],
    [{ kind: 'hang', target: 'accounts', status: 500 }, `fault field 'status' does not apply to kind 'hang' (allowed: kind, target, times)`],
  ])('refuses the fault %j', async (fault, message) => {
    const answer = await control(emulator.origin, 'POST', 'faults', fault);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: message });
    expect(() => emulator.state.addFault(fault as never)).toThrow(message);
    expect(emulator.state.faults).toEqual([]);
  });
});

describe('the accounts control API', () => {
  it('adds a client with a refresh token and echoes everything but the secrets', async () => {
    const answer = await addRefreshToken({
      refreshToken: 'team-refresh-token',
      clientId: 'team-client',
      clientSecret: 'team-secret',
      scopes: ['ZohoCRM.modules.leads.WRITE'],
      permission: 'no-privilege',
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      ok: true,
      refreshToken: { hint: 'team…', clientId: 'team-client', scopes: ['ZohoCRM.modules.leads.WRITE'], permission: 'no-privilege' },
    });
    expect(answer.text).not.toContain('team-secret');
    expect(answer.text).not.toContain('team-refresh-token');
    const token = await mint({ grant_type: 'refresh_token', client_id: 'team-client', client_secret: 'team-secret', refresh_token: 'team-refresh-token' });
    expect(emulator.state.token(token)).toEqual({ token, scopes: ['ZohoCRM.modules.leads.WRITE'], permission: 'no-privilege' });
    expect((await upload(emulator.origin, { authorization: auth(token) })).json).toMatchObject({ code: 'AUTHORIZATION_FAILED' });
  });

  it('adds more refresh tokens to a known client with the same secret', async () => {
    const second = { refreshToken: 'another', clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, scopes: [] };
    expect((await addRefreshToken(second)).status).toBe(200);
    await mint();
    await mint({ ...SEEDED, refresh_token: 'another' });
  });

  it.each([
    [{ clientId: 'c', clientSecret: 's', scopes: [] }, `'refreshToken' must be a non-empty string, got nothing`],
    [{ refreshToken: 'r', clientId: 'c', scopes: [] }, `'clientSecret' must be a non-empty string, got nothing`],
    [{ refreshToken: 'r', clientId: '', clientSecret: 's', scopes: [] }, `'clientId' must be a non-empty string, got ""`],
    [{ refreshToken: 'r', clientId: 'c', clientSecret: 's', scopes: 'ZohoCRM.modules.ALL' }, `'scopes' must be an array of strings, got "ZohoCRM.modules.ALL"`],
    [{ refreshToken: 'r', clientId: 'c', clientSecret: 's', scopes: [], permission: 'admin' }, `'permission' must be one of granted, no-permission, no-privilege, got "admin"`],
    [{ refreshToken: 'r', clientId: 'c', clientSecret: 's', scopes: [], secret: 's' }, `unknown field 'secret' (expected refreshToken, clientId, clientSecret, scopes, permission)`],
    [{ refreshToken: 'has space', clientId: 'c', clientSecret: 's', scopes: [] }, 'refreshToken must be a non-empty string without whitespace, got a string of 9 characters'],
    [{ refreshToken: 'r', clientId: EMULATOR_CLIENT_ID, clientSecret: 'other-secret', scopes: [] }, `client "${EMULATOR_CLIENT_ID}" already exists with a different secret`],
  ])('refuses %j with a precise 400', async (body, message) => {
    const answer = await addRefreshToken(body);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: message });
    // A refused addition leaves the seeded client as it was.
    await mint();
  });

  it('reads and changes the settings, all or some at a time', async () => {
    expect((await control(emulator.origin, 'GET', 'accounts')).json).toEqual({
      accessTokenTtlSeconds: 3600,
      maxTokensPerWindow: 10,
      windowSeconds: 600,
    });
    const changed = await control(emulator.origin, 'POST', 'accounts', { accessTokenTtlSeconds: 120 });
    expect(changed.json).toEqual({ ok: true, settings: { accessTokenTtlSeconds: 120, maxTokensPerWindow: 10, windowSeconds: 600 } });
    expect((await tokenCall(SEEDED)).json).toMatchObject({ expires_in: 120 });
    expect(emulator.state.configureAccounts({ windowSeconds: 60, maxTokensPerWindow: 3 })).toEqual({
      accessTokenTtlSeconds: 120,
      maxTokensPerWindow: 3,
      windowSeconds: 60,
    });
    expect(emulator.state.accountsSettings).toEqual({ accessTokenTtlSeconds: 120, maxTokensPerWindow: 3, windowSeconds: 60 });
  });

  it.each([
    [{ accessTokenTtlSeconds: 0 }, `accounts setting 'accessTokenTtlSeconds' must be an integer from 1 to 604800, got 0`],
    [{ windowSeconds: 1.5 }, `accounts setting 'windowSeconds' must be an integer from 1 to 604800, got 1.5`],
    [{ maxTokensPerWindow: '10' }, `accounts setting 'maxTokensPerWindow' must be an integer from 0 to 1000000, got "10"`],
    [{ maxTokensPerWindow: 5, ttl: 5 }, `unknown accounts setting 'ttl' (expected accessTokenTtlSeconds, maxTokensPerWindow, windowSeconds)`],
    [[1], 'expected a JSON object body, got [1]'],
  ])('refuses settings %j and changes none of them', async (body, message) => {
    const answer = await control(emulator.origin, 'POST', 'accounts', body);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: message });
    expect(emulator.state.accountsSettings).toEqual({ accessTokenTtlSeconds: 3600, maxTokensPerWindow: 10, windowSeconds: 600 });
  });

  it('lists the token log over HTTP', async () => {
    const started = Date.now();
    const token = await mint();
    await tokenCall({ ...SEEDED, grant_type: 'authorization_code' });
    const log = await control(emulator.origin, 'GET', 'token-requests');
    expect(log.status).toBe(200);
    expect(log.json).toEqual([
      {
        id: expect.any(Number),
        at: expect.any(Number),
        method: 'POST',
        grantType: 'refresh_token',
        clientId: EMULATOR_CLIENT_ID,
        refreshTokenHint: 'emul…',
        outcome: 'issued',
        accessTokenHint: `${token.slice(0, 9)}…`,
        fault: null,
      },
      expect.objectContaining({ grantType: 'authorization_code', outcome: 'unsupported_grant_type', accessTokenHint: null }),
    ]);
    const [first, second] = log.json as { id: number; at: number }[];
    expect(second!.id).toBe(first!.id + 1);
    expect(first!.at).toBeGreaterThanOrEqual(started);
    expect(second!.at).toBeGreaterThanOrEqual(first!.at);
  });

  it('reset restores the seeded client, default settings, and forgets minted tokens, counts, faults and the log', async () => {
    await control(emulator.origin, 'POST', 'accounts', { accessTokenTtlSeconds: 5, maxTokensPerWindow: 1 });
    await addRefreshToken({ refreshToken: 'temp-refresh', clientId: 'temp', clientSecret: 'temp-secret', scopes: ['ZohoCRM.modules.ALL'] });
    const minted = await mint();
    expect((await tokenCall(SEEDED)).status).toBe(400);
    emulator.state.revokeRefreshToken(EMULATOR_REFRESH_TOKEN);
    emulator.state.addFault({ kind: 'hang', target: 'accounts' });

    expect((await control(emulator.origin, 'POST', 'reset')).json).toEqual({ ok: true });
    expect(emulator.state.tokenRequests).toEqual([]);
    expect(emulator.state.faults).toEqual([]);
    expect(emulator.state.accountsSettings).toEqual({ accessTokenTtlSeconds: 3600, maxTokensPerWindow: 10, windowSeconds: 600 });
    expect((await upload(emulator.origin, { authorization: auth(minted) })).json).toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await tokenCall({ ...SEEDED, client_id: 'temp', client_secret: 'temp-secret', refresh_token: 'temp-refresh' })).json).toEqual({
      error: 'invalid_client',
    });
    // Revocation and the minting count are gone: the full quota of 10 is back.
    for (let i = 0; i < 10; i++) await mint();
    expect((await tokenCall(SEEDED)).status).toBe(400);
  });
});

describe('secrets in the token log', () => {
  it('holds hints only: never a whole client secret, refresh token or access token', async () => {
    emulator.state.addRefreshToken({ refreshToken: 'abc', clientId: 'short', clientSecret: 'short-secret', scopes: [] });
    const issued = [await mint(), await mint({ grant_type: 'refresh_token', client_id: 'short', client_secret: 'short-secret', refresh_token: 'abc' })];
    await tokenCall({ ...SEEDED, client_secret: 'wrong-secret-value' });
    await tokenCall({ ...SEEDED, refresh_token: 'unknown-refresh-value' });
    await tokenCall(SEEDED, { method: 'PUT' });
    emulator.state.addFault({ kind: 'internal-error', target: 'accounts' });
    await tokenCall(SEEDED, { via: 'form' });
    await waitFor(() => emulator.state.tokenRequests.length === 6, 2000, 'six log entries');

    const log = (await control(emulator.origin, 'GET', 'token-requests')).text;
    const secrets = [EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN, 'short-secret', 'abc', 'wrong-secret-value', 'unknown-refresh-value', ...issued];
    for (const secret of secrets) expect(log).not.toContain(secret);
    expect(JSON.stringify(emulator.state.tokenRequests)).toBe(log);
    expect(emulator.state.tokenRequests.map((entry) => entry.refreshTokenHint)).toEqual(['emul…', 'a…', 'emul…', 'unkn…', 'emul…', 'emul…']);
    expect(emulator.state.tokenRequests.map((entry) => entry.accessTokenHint)).toEqual([
      `${issued[0]!.slice(0, 9)}…`,
      `${issued[1]!.slice(0, 9)}…`,
      null,
      null,
      null,
      null,
    ]);
    // Nor does the API request log learn of them.
    expect(JSON.stringify(emulator.state.requests)).toBe('[]');
  });
});

describe('the in-process accounts API', () => {
  it('answers a token request like the HTTP endpoint, and logs it', () => {
    const params = { grantType: 'refresh_token', clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, refreshToken: EMULATOR_REFRESH_TOKEN };
    const answer = emulator.state.requestAccessToken(params, { apiDomain: 'https://www.zohoapis.eu' });
    expect(answer).toEqual({
      httpStatus: 200,
      outcome: 'issued',
      body: { access_token: expect.stringMatching(/^1000\.[0-9a-f]{64}$/), api_domain: 'https://www.zohoapis.eu', token_type: 'Bearer', expires_in: 3600 },
    });
    expect(emulator.state.token(answer.body['access_token'] as string)).toBeDefined();
    const refused = emulator.state.requestAccessToken({ ...params, clientSecret: null }, { apiDomain: 'x' });
    expect(refused).toEqual({ httpStatus: 200, outcome: 'invalid_client', body: { error: 'invalid_client' } });
    expect(outcomes()).toEqual(['issued', 'invalid_client']);
  });

  it('validates refresh tokens and settings with errors that name the field', () => {
    const { state } = emulator;
    expect(() => state.addRefreshToken({ refreshToken: '', clientId: 'c', clientSecret: 's', scopes: [] })).toThrow(/^refreshToken must be a non-empty string/);
    expect(() => state.addRefreshToken({ refreshToken: 'r', clientId: 'c', clientSecret: 's', scopes: [1] as never })).toThrow(/^scopes must be an array of strings/);
    expect(() => state.addRefreshToken({ refreshToken: 'r', clientId: 'c', clientSecret: 's', scopes: [], permission: 'root' as never })).toThrow(/^permission must be one of/);
    expect(() => state.configureAccounts({ accessTokenTtlSeconds: -1 })).toThrow(/'accessTokenTtlSeconds' must be an integer/);
    expect(() => state.expireToken('unknown')).toThrow(/no live token/);
  });
});
