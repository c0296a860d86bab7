import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { agent, call, control, lastRequest, photoPath, png, TOKEN_HEADER, upload, waitFor } from './helpers.ts';

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator();
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

describe('throttle', () => {
  it('sends a stored photo chunkBytes every intervalMs, whole and in its own content type', async () => {
    const photo = png(4, 4, 40_000);
    await upload(emulator.origin, { bytes: photo });
    emulator.state.addFault({ kind: 'throttle', chunkBytes: 10_000, intervalMs: 50 });
    const started = Date.now();
    const response = await request(`${emulator.origin}${photoPath()}`, { headers: { authorization: TOKEN_HEADER }, dispatcher: agent });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    expect(Date.now() - started).toBeGreaterThanOrEqual(180); // five chunks, four gaps
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/png');
    expect(bytes.equals(photo)).toBe(true);
    const entry = lastRequest(emulator.state.requests);
    expect(entry).toMatchObject({ method: 'GET', state: 'answered', status: 200 });
    expect(entry.endedAt! - entry.startedAt).toBeGreaterThanOrEqual(180);
  });

  it("leaves the request 'aborted' in the log when the client leaves before the last chunk", async () => {
    await upload(emulator.origin, { bytes: png(4, 4, 100_000) });
    emulator.state.addFault({ kind: 'throttle', chunkBytes: 1_000, intervalMs: 100 });
    const controller = new AbortController();
    const response = await request(`${emulator.origin}${photoPath()}`, {
      method: 'GET',
      headers: { authorization: TOKEN_HEADER },
      dispatcher: agent,
      signal: controller.signal,
    });
    expect(response.statusCode).toBe(200);
    response.body.on('error', () => {});
    for await (const _chunk of response.body) break; // one chunk, then gone
    controller.abort();
    await waitFor(() => lastRequest(emulator.state.requests).state === 'aborted', 5_000, "the request 'aborted'");
    expect(lastRequest(emulator.state.requests)).toMatchObject({ method: 'GET', state: 'aborted', status: 200 });
  });

  it('paces error answers too, and takes no fields it does not use', async () => {
    emulator.state.addFault({ kind: 'throttle', chunkBytes: 8, intervalMs: 5 });
    expect((await call(emulator.origin, 'GET', photoPath({ recordId: '7' }))).json).toMatchObject({ code: 'INVALID_DATA' });
    const refused = await control(emulator.origin, 'POST', 'faults', { kind: 'throttle', body: 'x' });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ error: expect.stringContaining("'body' does not apply to kind 'throttle'") });
  });
});
