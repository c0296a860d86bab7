import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { loadConfig } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/server.ts';
import { downloadLog, createLogger } from '../../src/telemetry/logger.ts';
import { png, withPadding } from '../fixtures/images.ts';
import { EmulatorControl } from '../support/emulator-control.ts';
import { uploadPhoto } from '../support/upload-client.ts';

type Line = Record<string, unknown> & { level: string; msg: string };

/** A pino destination that keeps every line, as an operator's collector would receive them. */
function memoryLog() {
  const raw: string[] = [];
  return { raw, stream: { write: (line: string) => void raw.push(line) }, lines: (): Line[] => raw.map((line) => JSON.parse(line) as Line) };
}

const TOKEN = 'caller-token-0123456789-secret';
const PHOTO_PATH = '/photos/Leads/1000000000001';

describe('the download log line', () => {
  let emulator: CrmEmulator;
  let crm: EmulatorControl;
  let gateway: Gateway;
  const log = memoryLog();
  const origin = () => new URL(gateway.url).origin;
  const downloadLines = async () => {
    // the line is written when the connection is done with the answer
    for (let i = 0; i < 100 && !log.lines().some((l) => l.msg.startsWith('download ended')); i++) await new Promise((r) => setTimeout(r, 10));
    return log.lines().filter((l) => l.msg.startsWith('download ended'));
  };

  beforeAll(async () => {
    emulator = await startCrmEmulator();
    crm = new EmulatorControl(emulator.origin);
    const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, log.stream);
    gateway = await startGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1', CRM_RESPONSE_TIMEOUT_MS: '1000' }), {
      crmOrigin: emulator.origin,
      observer: downloadLog(logger),
    });
  });
  afterAll(async () => {
    gateway.server.closeAllConnections();
    await gateway.close();
    await emulator.close();
  });
  beforeEach(async () => {
    await crm.reset();
    await crm.addToken(TOKEN, ['ZohoCRM.modules.ALL']);
    log.raw.length = 0;
  });

  it('writes one info line per download, with the bytes sent and the CRM status, and no credential', async () => {
    const file = withPadding(png(8, 8), 200_000);
    await uploadPhoto(gateway.url, { file, authorization: `Zoho-oauthtoken ${TOKEN}` });
    log.raw.length = 0;
    const response = await fetch(`${origin()}${PHOTO_PATH}?v=1`, { headers: { authorization: `Zoho-oauthtoken ${TOKEN}`, 'x-request-id': 'dl-7' } });
    expect(response.status).toBe(200);
    expect((await response.arrayBuffer()).byteLength).toBe(200_000);
    const lines = await downloadLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      requestId: 'dl-7',
      module: 'Leads',
      recordId: '1000000000001',
      outcome: 'downloaded',
      httpStatus: 200,
      bytesSent: 200_000,
      crmStatus: 200,
      totalMs: expect.any(Number),
    });
    expect(log.raw.join('')).not.toContain(TOKEN);
  });

  it('logs a refusal at info with its code', async () => {
    const response = await fetch(`${origin()}${PHOTO_PATH}`, { headers: { authorization: `Zoho-oauthtoken ${TOKEN}` } });
    expect(response.status).toBe(404);
    await response.arrayBuffer();
    const lines = await downloadLines();
    expect(lines).toEqual([expect.objectContaining({ level: 'info', outcome: 'NO_PHOTO', httpStatus: 404, bytesSent: 0, crmStatus: 204 })]);
  });

  it('logs a CRM failure at warn', async () => {
    await crm.addFault({ kind: 'internal-error' });
    const response = await fetch(`${origin()}${PHOTO_PATH}`, { headers: { authorization: `Zoho-oauthtoken ${TOKEN}` } });
    expect(response.status).toBe(502);
    await response.arrayBuffer();
    const lines = await downloadLines();
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', outcome: 'INTERNAL_ERROR', httpStatus: 502, crmStatus: 500 })]);
  });

  it('leaves a signed link\'s signature out of the line', async () => {
    const response = await fetch(`${origin()}${PHOTO_PATH}?v=1&exp=1&sig=secret-signature-abc`, { headers: { authorization: `Zoho-oauthtoken ${TOKEN}` } });
    await response.arrayBuffer();
    const lines = await downloadLines();
    expect(lines).toHaveLength(1);
    expect(log.raw.join('')).not.toContain('secret-signature-abc');
  });
});
