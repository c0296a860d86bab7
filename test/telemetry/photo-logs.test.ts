/** The upload's log line says what the gateway did to a phone photo: scaled it (from, to, the wait and the work), took its location out. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { loadConfig } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/server.ts';
import { createLogger, uploadLog } from '../../src/telemetry/logger.ts';
import { jpeg } from '../fixtures/images.ts';
import { phoneJpeg, photoResultOf, uploadPhonePhoto } from '../support/phone-photos.ts';

describe('upload log lines of phone photos', () => {
  let emulator: CrmEmulator;
  let gateway: Gateway;
  const raw: string[] = [];
  const lines = () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    emulator = await startCrmEmulator();
    const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, { write: (line: string) => void raw.push(line) });
    gateway = await startGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1' }), { crmOrigin: emulator.origin, observer: uploadLog(logger) });
  });
  afterAll(async () => {
    gateway.server.closeAllConnections();
    await gateway.close();
    await emulator.close();
  });

  it('a scaled-down photo: from and to, the wait for a turn and the resize; a photo with GPS: locationRemoved', async () => {
    expect(photoResultOf(await uploadPhonePhoto(gateway.url, jpeg(4000, 2600), { fitToLimits: true })).__typename).toBe('UploadRecordPhotoSuccess');
    expect(photoResultOf(await uploadPhonePhoto(gateway.url, await phoneJpeg(320, 240, { gps: true }))).__typename).toBe('UploadRecordPhotoSuccess');
    expect(photoResultOf(await uploadPhonePhoto(gateway.url, await phoneJpeg(320, 240))).__typename).toBe('UploadRecordPhotoSuccess');
    const [resized, located, plain] = lines().filter((line) => line.msg === 'upload ended');
    expect(resized).toMatchObject({ outcome: 'UploadRecordPhotoSuccess', resize: { from: '4000x2600', queuedMs: expect.any(Number), ms: expect.any(Number) } });
    const [width, height] = String((resized!.resize as { to: string }).to).split('x').map(Number) as [number, number];
    expect(width * height).toBeLessThanOrEqual(10_000_000);
    expect(width * height).toBeGreaterThan(9_900_000);
    expect(resized).not.toHaveProperty('locationRemoved');
    expect(located).toMatchObject({ outcome: 'UploadRecordPhotoSuccess', locationRemoved: true });
    expect(located).not.toHaveProperty('resize');
    expect(plain).not.toHaveProperty('resize');
    expect(plain).not.toHaveProperty('locationRemoved');
  });
});
