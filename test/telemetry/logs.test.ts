import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { EMULATOR_REFRESH_TOKEN } from '../../emulator/accounts.ts';
import { loadConfig } from '../../src/config.ts';
import { createGatewayHandler, startGateway, type Gateway } from '../../src/server.ts';
import { createLogger, uploadLog, useRequestErrorLog, yogaLogger } from '../../src/telemetry/logger.ts';
import { UploadStreamError } from '../../src/photos/stream-reader.ts';
import { png } from '../fixtures/images.ts';
import { EmulatorControl } from '../support/emulator-control.ts';
import { UPLOAD_MUTATION } from '../support/upload-client.ts';

type Line = Record<string, unknown> & { level: string; msg: string };

/** A pino destination that keeps every line, as an operator's collector would receive them. */
function memoryLog() {
  const raw: string[] = [];
  return {
    raw,
    stream: { write: (line: string) => void raw.push(line) },
    lines: (): Line[] => raw.map((line) => JSON.parse(line) as Line),
  };
}

const CALLER_TOKEN = 'caller-token-0123456789-secret';

describe('logs of a running gateway', () => {
  let emulator: CrmEmulator;
  let crm: EmulatorControl;
  let gateway: Gateway;
  const log = memoryLog();

  beforeAll(async () => {
    emulator = await startCrmEmulator();
    crm = new EmulatorControl(emulator.origin);
    const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, log.stream);
    gateway = await startGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1' }), {
      crmOrigin: emulator.origin,
      observer: uploadLog(logger),
      plugins: [useRequestErrorLog(logger)],
      yogaLogger: yogaLogger(logger),
    });
    await crm.addToken(CALLER_TOKEN, ['ZohoCRM.modules.ALL']);
  });
  afterAll(async () => {
    gateway.server.closeAllConnections();
    await gateway.close();
    await emulator.close();
  });
  beforeEach(() => {
    log.raw.length = 0;
  });

  /** A multipart upload as a browser sends it, with the headers given: the HTTP response and the result member. */
  const upload = async (headers: Record<string, string>, file: Uint8Array = png(30, 20)) => {
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: UPLOAD_MUTATION, variables: { module: 'LEADS', recordId: '1000000000001', file: null } }));
    form.set('map', JSON.stringify({ 0: ['variables.file'] }));
    form.set('0', new Blob([new Uint8Array(file)]), 'photo.png');
    const response = await fetch(gateway.url, {
      method: 'POST',
      body: form,
      headers: { 'apollo-require-preflight': 'true', authorization: `Zoho-oauthtoken ${CALLER_TOKEN}`, ...headers },
    });
    const body = (await response.json()) as { data: { uploadRecordPhoto: { __typename: string } } };
    return { headers: response.headers, typename: body.data.uploadRecordPhoto.__typename };
  };

  it('writes one info line per successful upload, with the caller\'s request id echoed back', async () => {
    const response = await upload({ 'x-request-id': 'req-42.a' });
    expect(response.typename).toBe('UploadRecordPhotoSuccess');
    expect(response.headers.get('x-request-id')).toBe('req-42.a');
    const lines = log.lines().filter((line) => line.msg.startsWith('upload ended'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      requestId: 'req-42.a',
      module: 'Leads',
      recordId: '1000000000001',
      outcome: 'UploadRecordPhotoSuccess',
      code: null,
      crmStatus: 200,
      bytesForwarded: png(30, 20).length,
    });
    for (const field of ['queuedMs', 'crmMs', 'totalMs']) expect(typeof lines[0]![field], field).toBe('number');
  });

  it('replaces a request id that is not a sane token with a new one', async () => {
    const response = await upload({ 'x-request-id': 'evil id\twith spaces' });
    const echoed = response.headers.get('x-request-id');
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    expect(log.lines().find((line) => line.msg === 'upload ended')?.requestId).toBe(echoed);
  });

  it('logs a CRM 5xx at warn, with the CRM status and code', async () => {
    await crm.addFault({ kind: 'internal-error' });
    const response = await upload({});
    expect(response.typename).toBe('CrmServiceError');
    const line = log.lines().find((entry) => entry.msg.startsWith('upload ended'));
    expect(line).toMatchObject({ level: 'warn', outcome: 'CrmServiceError', code: 'INTERNAL_ERROR', crmStatus: 500 });
  });

  it('logs a refusal by the gateway at info, with no CRM call', async () => {
    const response = await upload({}, Buffer.alloc(0));
    expect(response.typename).toBe('PhotoRejectedError');
    expect(log.lines().find((entry) => entry.msg.startsWith('upload ended'))).toMatchObject({
      level: 'info',
      outcome: 'PhotoRejectedError',
      code: 'EMPTY_FILE',
      crmStatus: null,
      queuedMs: null,
      bytesForwarded: 0,
    });
  });

  it('logs a request refused before parsing (CSRF) at info with its code, and echoes the request id', async () => {
    const response = await fetch(gateway.url, { method: 'POST', body: new FormData(), headers: { 'x-request-id': 'csrf-1' } });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-request-id')).toBe('csrf-1');
    expect(log.lines()).toContainEqual(expect.objectContaining({ level: 'info', requestId: 'csrf-1', code: 'CSRF_PREVENTED', httpStatus: 403 }));
  });

  it('never writes the caller\'s token, whatever happened', async () => {
    await upload({});
    await crm.addFault({ kind: 'internal-error' });
    await upload({});
    await upload({ authorization: `Bearer ${CALLER_TOKEN}` }, Buffer.from('not an image'));
    expect(log.raw.length).toBeGreaterThanOrEqual(3);
    expect(log.raw.join('\n')).not.toContain(CALLER_TOKEN);
  });
});

describe('the upload log line', () => {
  const report = {
    requestId: 'r1',
    moduleApiName: 'Leads',
    recordId: '1',
    outcome: null,
    code: null,
    crmStatus: null,
    bytesForwarded: 10,
    queuedMs: 1,
    crmMs: null,
    totalMs: 2,
  };

  it('logs a bug at error with its stack', () => {
    const log = memoryLog();
    uploadLog(createLogger({ logLevel: 'info', logFormat: 'json' }, log.stream)).uploadEnded({ ...report, error: new TypeError('boom in the gateway') });
    const [line] = log.lines();
    expect(line).toMatchObject({ level: 'error', outcome: 'InternalError' });
    expect((line!.err as { stack: string }).stack).toContain('TypeError: boom in the gateway');
  });

  it('logs a broken client upload at info as a request error with its HTTP code', () => {
    const log = memoryLog();
    uploadLog(createLogger({ logLevel: 'info', logFormat: 'json' }, log.stream)).uploadEnded({
      ...report,
      error: new UploadStreamError('idle', 'The upload stream failed: the client sent nothing for 5 ms'),
    });
    expect(log.lines()[0]).toMatchObject({ level: 'info', outcome: 'RequestError', code: 'UPLOAD_TIMEOUT', httpStatus: 408 });
  });

  it('redacts credentials in any object it is given', () => {
    const log = memoryLog();
    createLogger({ logLevel: 'info', logFormat: 'json' }, log.stream).info(
      { authorization: 'Zoho-oauthtoken S1', headers: { 'x-api-key': 'S2' }, settings: { clientSecret: 'S3', refreshToken: 'S4' } },
      'with secrets',
    );
    expect(log.raw.join('')).not.toMatch(/S1|S2|S3|S4/);
    expect(log.lines()[0]).toMatchObject({ authorization: '[redacted]', headers: { 'x-api-key': '[redacted]' } });
  });

  it('writes only its own fields on the upload line, whatever else the report carries (that line skips redaction)', () => {
    const log = memoryLog();
    const carrying = { ...report, outcome: 'UploadRecordPhotoSuccess', authorization: 'Zoho-oauthtoken S1', headers: { 'x-api-key': 'S2' } };
    uploadLog(createLogger({ logLevel: 'info', logFormat: 'json' }, log.stream)).uploadEnded(carrying as unknown as typeof report);
    expect(log.raw.join('')).not.toMatch(/S1|S2|redacted/);
    expect(Object.keys(log.lines()[0]!).sort()).toEqual(
      ['bytesForwarded', 'code', 'crmMs', 'crmStatus', 'level', 'module', 'msg', 'outcome', 'queuedMs', 'recordId', 'requestId', 'service', 'time', 'totalMs'].sort(),
    );
  });

  it('still redacts the line of a bug, whose error may carry anything', () => {
    const log = memoryLog();
    const error = Object.assign(new Error('boom'), { headers: { authorization: 'Zoho-oauthtoken S3' } });
    uploadLog(createLogger({ logLevel: 'info', logFormat: 'json' }, log.stream)).uploadEnded({ ...report, error });
    expect(log.raw.join('')).not.toContain('S3');
    expect(log.lines()[0]).toMatchObject({ err: { headers: { authorization: '[redacted]' } } });
  });

  it('honours LOG_LEVEL', () => {
    const log = memoryLog();
    uploadLog(createLogger({ logLevel: 'warn', logFormat: 'json' }, log.stream)).uploadEnded({ ...report, outcome: 'UploadRecordPhotoSuccess' });
    expect(log.raw).toEqual([]);
  });
});

describe('probes', () => {
  let emulator: CrmEmulator;
  beforeAll(async () => {
    emulator = await startCrmEmulator();
  });
  afterAll(async () => {
    await emulator.close();
  });

  it('live and ready in pass-through; ready turns 503 once the gateway drains', async () => {
    const handler = createGatewayHandler(loadConfig({}), { crmOrigin: emulator.origin });
    const live = await handler.yoga.fetch('http://gateway.test/health/live');
    expect([live.status, await live.json()]).toEqual([200, { status: 'live' }]);
    expect((await handler.yoga.fetch('http://gateway.test/health/ready')).status).toBe(200);
    expect((await handler.yoga.fetch('http://gateway.test/health')).status).toBe(200);
    handler.drain();
    const ready = await handler.yoga.fetch('http://gateway.test/health/ready');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready', reason: expect.stringContaining('draining') });
    expect((await handler.yoga.fetch('http://gateway.test/health/live')).status).toBe(200);
    await handler.destroy();
  });

  it('in service mode, ready only while the accounts server gives a token', async () => {
    const crm = new EmulatorControl(emulator.origin);
    await crm.reset();
    await crm.revokeRefreshToken(EMULATOR_REFRESH_TOKEN);
    const config = loadConfig({
      ZOHO_CLIENT_ID: 'emulator-client',
      ZOHO_CLIENT_SECRET: 'emulator-secret',
      ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
      GATEWAY_API_KEYS: 'probe-test-key-0123456789',
    });
    const handler = createGatewayHandler(config, { crmOrigin: emulator.origin, accountsUrl: emulator.origin });
    const refused = await handler.yoga.fetch('http://gateway.test/health/ready');
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ reason: expect.stringContaining('no CRM access token') });
    await handler.destroy();

    await crm.reset(); // the refresh token is valid again
    const fresh = createGatewayHandler(config, { crmOrigin: emulator.origin, accountsUrl: emulator.origin });
    expect((await fresh.yoga.fetch('http://gateway.test/health/ready')).status).toBe(200);
    await fresh.destroy();
  });
});
