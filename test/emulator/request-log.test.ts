import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import type { RequestLogEntry } from '../../emulator/state.ts';
import { call, lastRequest, multipart, photoPath, png, RawClient, TOKEN_HEADER, upload, waitFor } from './helpers.ts';

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator();
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

/** The logged request for a path with its query string. */
function entryFor(pathAndQuery: string): RequestLogEntry | undefined {
  return emulator.state.requests.find(
    (entry) => `${entry.path}?${new URLSearchParams(entry.query).toString()}` === pathAndQuery,
  );
}

describe('the request log', () => {
  it('records an answered upload with its headers, file, status, code and times', async () => {
    const bytes = png(2, 3);
    const before = Date.now();
    await upload(emulator.origin, { bytes, filename: 'me.png', query: 'restrict_triggers=workflow&x=1' });
    const after = Date.now();
    const entry = lastRequest(emulator.state.requests);
    expect(entry).toMatchObject({
      method: 'POST',
      path: '/crm/v7/Leads/1000000000001/photo',
      query: { restrict_triggers: 'workflow', x: '1' },
      authorization: TOKEN_HEADER,
      state: 'answered',
      file: { filename: 'me.png', contentType: 'image/png', size: bytes.length },
      status: 200,
      code: 'SUCCESS',
    });
    expect(entry.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(Number(entry.contentLength)).toBe(entry.bytesReceived);
    expect(entry.bytesReceived).toBeGreaterThan(bytes.length);
    expect(entry.startedAt).toBeGreaterThanOrEqual(before);
    expect(entry.firstByteAt).toBeGreaterThanOrEqual(entry.startedAt);
    expect(entry.endedAt).toBeGreaterThanOrEqual(entry.firstByteAt!);
    expect(entry.endedAt).toBeLessThanOrEqual(after);
  });

  it('keeps requests in arrival order with increasing ids, errors included', async () => {
    await upload(emulator.origin, { authorization: null });
    await call(emulator.origin, 'GET', '/nowhere');
    await upload(emulator.origin);
    const log = emulator.state.requests;
    expect(log.map((e) => [e.method, e.path, e.status, e.code, e.authorization])).toEqual([
      ['POST', photoPath(), 401, 'AUTHENTICATION_FAILURE', null],
      ['GET', '/nowhere', 404, 'INVALID_URL_PATTERN', TOKEN_HEADER],
      ['POST', photoPath(), 200, 'SUCCESS', TOKEN_HEADER],
    ]);
    expect(log[0]!.id).toBeLessThan(log[1]!.id);
    expect(log[1]!.id).toBeLessThan(log[2]!.id);
    expect(log[1]).toMatchObject({ contentType: null, contentLength: null, transferEncoding: null, bytesReceived: 0, firstByteAt: null });
  });

  it('reads the whole body before answering an error', async () => {
    await upload(emulator.origin, { bytes: png(1, 1, 200_000), authorization: 'Zoho-oauthtoken nope' });
    const entry = lastRequest(emulator.state.requests);
    expect(entry.code).toBe('INVALID_TOKEN');
    expect(entry.bytesReceived).toBe(Number(entry.contentLength));
    expect(entry.file).toBeNull();
  });

  it('does not log control requests', async () => {
    await call(emulator.origin, 'GET', '/__emulator/requests');
    expect(emulator.state.requests).toHaveLength(0);
  });

  it('counts bytes live while a client trickles a chunked body, then records the answer', async () => {
    const path = photoPath({ query: 'trickle=1' });
    const { body, contentType } = multipart([{ name: 'file', filename: 't.png', contentType: 'image/png', data: png(4, 4, 3000) }]);
    const client = await RawClient.connect(emulator.origin);
    try {
      await client.head('POST', path, { authorization: TOKEN_HEADER, 'content-type': contentType, 'transfer-encoding': 'chunked' });
      const seen: number[] = [];
      const slice = 500;
      for (let offset = 0; offset < body.length; offset += slice) {
        const piece = body.subarray(offset, offset + slice);
        await client.write(`${piece.length.toString(16)}\r\n`);
        await client.write(Buffer.concat([piece, Buffer.from('\r\n')]));
        const expected = offset + piece.length;
        await waitFor(() => (entryFor(path)?.bytesReceived ?? 0) >= expected, 2000, `${expected} bytes logged`);
        const entry = entryFor(path)!;
        expect(entry.state).toBe('receiving');
        seen.push(entry.bytesReceived);
        await sleep(20);
      }
      expect(seen.length).toBeGreaterThan(3);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).toBe(seen.length);
      await client.write('0\r\n\r\n');
      const response = await client.response();
      expect(response?.status).toBe(200);
      expect(entryFor(path)).toMatchObject({
        state: 'answered',
        bytesReceived: body.length,
        transferEncoding: 'chunked',
        contentLength: null,
        status: 200,
      });
    } finally {
      client.destroy();
    }
  });

  it('marks a request aborted when the client disconnects mid-body, and keeps serving', async () => {
    const path = photoPath({ query: 'abort=1' });
    const client = await RawClient.connect(emulator.origin);
    await client.head('POST', path, {
      authorization: TOKEN_HEADER,
      'content-type': 'multipart/form-data; boundary=b',
      'content-length': '100000',
    });
    await client.write(`--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n`);
    await client.write(png(1, 1, 1000));
    await waitFor(() => entryFor(path)?.file !== null && entryFor(path)?.file !== undefined, 2000, 'the file part');
    expect(entryFor(path)?.state).toBe('receiving');
    client.destroy();
    const entry = await waitFor(() => (entryFor(path)?.state === 'aborted' ? entryFor(path) : undefined), 2000, 'abort');
    expect(entry.status).toBeNull();
    expect(entry.code).toBeNull();
    expect(entry.endedAt).not.toBeNull();
    expect(entry.bytesReceived).toBeGreaterThan(1000);
    expect(entry.bytesReceived).toBeLessThan(100_000);
    expect(emulator.state.photo('Leads', '1000000000001')).toBeUndefined();
    expect((await upload(emulator.origin)).status).toBe(200);
  });

  it('marks a request aborted when the client disconnects while the emulator drains a refused body', async () => {
    const path = photoPath({ recordId: '5', query: 'abort=2' });
    const client = await RawClient.connect(emulator.origin);
    await client.head('POST', path, { authorization: TOKEN_HEADER, 'content-type': 'text/plain', 'content-length': '5000' });
    await client.write('x'.repeat(100));
    await waitFor(() => entryFor(path)?.bytesReceived === 100, 2000, '100 bytes');
    client.destroy();
    await waitFor(() => entryFor(path)?.state === 'aborted', 2000, 'abort');
  });

  it('survives garbage that is not HTTP at all', async () => {
    const client = await RawClient.connect(emulator.origin);
    await client.write('\x00\x01 this is not http\r\n\r\n');
    await client.closed;
    expect((await upload(emulator.origin)).status).toBe(200);
  });
});
