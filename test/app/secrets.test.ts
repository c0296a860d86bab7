import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN } from '../../emulator/accounts.ts';
import { png, withPadding } from '../fixtures/images.ts';
import { EmulatorControl } from '../support/emulator-control.ts';
import { NODE, start, type Started } from '../support/process.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';

// Runs the gateway as its own process, drives success and failure paths in both credential modes,
// and searches everything it printed and answered for every secret it was given or minted.

const API_KEY = 'leak-check-api-key-0123456789';
const CALLER_TOKEN = '1000.caller-secret-token-abcdef';
const WRONG_TOKEN = '1000.wrong-secret-token-fedcba';

let emulator: Started;
let crm: EmulatorControl;
beforeAll(async () => {
  emulator = start(NODE, ['emulator/main.ts'], { env: { EMULATOR_PORT: '0' } });
  const origin = (await emulator.waitFor(/(http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  crm = new EmulatorControl(origin);
  await crm.addToken(CALLER_TOKEN, ['ZohoCRM.modules.ALL']);
});
afterAll(async () => {
  await emulator?.stop();
});

async function startGateway(env: Record<string, string>): Promise<{ app: Started; url: string }> {
  const app = start(NODE, ['src/main.ts'], {
    env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', ZOHO_API_DOMAIN: crm.origin, ZOHO_ACCOUNTS_URL: crm.origin, CRM_RESPONSE_TIMEOUT_MS: '300', ...env },
  });
  const url = (await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
  return { app, url };
}

const file = (data: Uint8Array = png(5, 5)) => ({ name: '0', filename: 'a.png', contentType: 'image/png', data });
const body = (data?: Uint8Array) => multipartBody([...uploadParts(), file(data)]);

async function driveFailures(url: string, headers: Record<string, string>, answers: string[]): Promise<void> {
  const send = async (extra: Record<string, string>, payload = body()) => {
    const response = await postRaw(url, { body: payload, headers: { ...headers, ...extra } });
    answers.push(response.text);
    return response;
  };
  await send({});
  await crm.addFault({ kind: 'internal-error' });
  await send({});
  await crm.addFault({ kind: 'hang' });
  await send({});
  await crm.addFault({ kind: 'early-reject', status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token', close: true });
  await send({}, body(withPadding(png(5, 5), 3_000_000)));
  await send({}, Buffer.from('--broken\r\n'));
  await send({ 'x-api-key': 'not-the-key-0123456789' });
  await send({}, body(new Uint8Array(0)));
}

/** `texts` are what the gateway printed and answered, each as captured: an empty one means nothing was searched. */
function expectClean(texts: string[], secrets: string[]): void {
  texts.forEach((text, i) => expect(text.trim(), `text ${i} of ${texts.length} is empty`).not.toBe(''));
  const all = texts.join('\n');
  for (const secret of secrets) expect(all, `a secret leaked: ${secret.slice(0, 6)}…`).not.toContain(secret);
}

describe('nothing leaks', () => {
  it('in pass-through mode', async () => {
    await crm.reset();
    await crm.addToken(CALLER_TOKEN, ['ZohoCRM.modules.ALL']);
    const { app, url } = await startGateway({ GATEWAY_API_KEYS: API_KEY });
    const answers: string[] = [];
    await driveFailures(url, { 'x-api-key': API_KEY, authorization: `Zoho-oauthtoken ${CALLER_TOKEN}` }, answers);
    await driveFailures(url, { 'x-api-key': API_KEY, authorization: `Bearer ${WRONG_TOKEN}` }, answers);
    expect(answers.some((a) => a.includes('UploadRecordPhotoSuccess'))).toBe(true);
    expect(answers.some((a) => a.includes('INVALID_TOKEN'))).toBe(true);
    await app.stop();
    expectClean([app.output(), ...answers], [API_KEY, CALLER_TOKEN, WRONG_TOKEN]);
  });

  it('in service mode, including a refused refresh', async () => {
    await crm.reset();
    const { app, url } = await startGateway({
      GATEWAY_API_KEYS: API_KEY,
      // The timeout bounds the token endpoint calls too: 300 ms is short enough for a loaded machine to miss a mint.
      CRM_RESPONSE_TIMEOUT_MS: '1000',
      ZOHO_CLIENT_ID: EMULATOR_CLIENT_ID,
      ZOHO_CLIENT_SECRET: EMULATOR_CLIENT_SECRET,
      ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
    });
    const answers: string[] = [];
    await driveFailures(url, { 'x-api-key': API_KEY }, answers);
    // Whether the early reject's 401 INVALID_TOKEN reaches the gateway before the CRM closes the socket is a race:
    // when it does, the gateway drops its token and mints another for the empty file, which no CRM call carried yet.
    // One more upload carries the token the gateway holds now, so the CRM's log names every token ever minted.
    const last = await postRaw(url, { body: body(), headers: { 'x-api-key': API_KEY } });
    answers.push(last.text);
    expect(last.json?.data?.uploadRecordPhoto?.__typename).toBe('UploadRecordPhotoSuccess');
    const minted = [...new Set((await crm.requests()).map((r) => r.authorization?.replace('Zoho-oauthtoken ', '') ?? '').filter(Boolean))];
    const issued = (await crm.tokenRequests()) as { outcome: string; accessTokenHint: string | null }[];
    expect(minted.map((token) => `${token.slice(0, 9)}…`).sort()).toEqual(
      issued.filter((r) => r.outcome === 'issued').map((r) => r.accessTokenHint).sort(),
    );
    await crm.revokeRefreshToken(EMULATOR_REFRESH_TOKEN);
    // Every token minted so far stops working: the next upload meets INVALID_TOKEN (the gateway drops its token),
    // the one after it a refused refresh.
    for (const token of minted) await crm.expireToken(token);
    await driveFailures(url, { 'x-api-key': API_KEY }, answers);
    const codes = answers.slice(-7, -5).map((a) => (JSON.parse(a) as { data?: { uploadRecordPhoto?: { code?: string } } }).data?.uploadRecordPhoto?.code);
    expect(codes).toEqual(['INVALID_TOKEN', 'AUTHENTICATION_FAILURE']);
    await app.stop();
    expectClean([app.output(), ...answers], [API_KEY, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN, ...minted]);
  });

  it('in a start-up failure', async () => {
    const app = start(NODE, ['src/main.ts'], {
      env: {
        PORT: '0',
        GATEWAY_API_KEYS: `${API_KEY},short`,
        ZOHO_CLIENT_ID: EMULATOR_CLIENT_ID,
        ZOHO_CLIENT_SECRET: EMULATOR_CLIENT_SECRET,
        ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
      },
    });
    expect(await app.exited()).toBe(1);
    expect(app.output()).toMatch(/Configuration error: GATEWAY_API_KEYS/);
    expectClean([app.output()], [API_KEY, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN]);
  });
});
