import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { agent, call, control, crmError, lastRequest, photoPath, png, RawClient, TOKEN_HEADER, upload, waitFor } from './helpers.ts';
import { request } from 'undici';

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator();
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

/** Opens a raw upload that announces `declared` body bytes and sends only the first `sent`. */
async function partialUpload(origin: string, declared: number, sent: number): Promise<RawClient> {
  const client = await RawClient.connect(origin);
  await client.head('POST', photoPath(), {
    authorization: TOKEN_HEADER,
    'content-type': 'multipart/form-data; boundary=b',
    'content-length': String(declared),
  });
  await client.write(`--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n`);
  await client.write(Buffer.alloc(sent, 0x42));
  return client;
}

describe('latency', () => {
  it('delays an otherwise normal answer', async () => {
    emulator.state.addFault({ kind: 'latency', delayMs: 300 });
    const started = Date.now();
    const answer = await upload(emulator.origin);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(answer.json).toMatchObject({ code: 'SUCCESS' });
    expect(emulator.state.photo('Leads', '1000000000001')).toBeDefined();
    const entry = lastRequest(emulator.state.requests);
    expect(entry.endedAt! - entry.startedAt).toBeGreaterThanOrEqual(290);
    const quick = Date.now();
    await upload(emulator.origin);
    expect(Date.now() - quick).toBeLessThan(290);
  });

  it('drops the pending answer when the client gives up during the delay', async () => {
    emulator.state.addFault({ kind: 'latency', delayMs: 400 });
    const giveUp = new AbortController();
    const pending = upload(emulator.origin, { signal: giveUp.signal });
    const entry = await waitFor(() => emulator.state.requests[0], 2000, 'the request');
    await waitFor(() => entry.file !== null && emulator.state.photo('Leads', '1000000000001') !== undefined, 2000, 'the photo');
    giveUp.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => entry.state === 'aborted', 2000, 'abort');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(entry).toMatchObject({ state: 'aborted', status: null, code: null });
  });

  it('delays error answers too', async () => {
    emulator.state.addFault({ kind: 'latency', delayMs: 200 });
    const started = Date.now();
    expect((await upload(emulator.origin, { authorization: null })).json).toMatchObject({ code: 'AUTHENTICATION_FAILURE' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('answers from a broken CRM', () => {
  it('internal-error answers 500 INTERNAL_ERROR after reading the body, and stores nothing', async () => {
    emulator.state.addFault({ kind: 'internal-error' });
    const answer = await upload(emulator.origin, { bytes: png(1, 1, 50_000) });
    expect(answer.status).toBe(500);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.json).toEqual(crmError('INTERNAL_ERROR', 'Internal Server Error'));
    const entry = lastRequest(emulator.state.requests);
    expect(entry.bytesReceived).toBe(Number(entry.contentLength));
    expect(entry).toMatchObject({ status: 500, code: 'INTERNAL_ERROR', state: 'answered' });
    expect(emulator.state.photo('Leads', '1000000000001')).toBeUndefined();
  });

  it('rate-limit answers 429 TOO_MANY_REQUESTS with Retry-After 30 by default', async () => {
    emulator.state.addFault({ kind: 'rate-limit' });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('30');
    expect(answer.json).toMatchObject({ code: 'TOO_MANY_REQUESTS', status: 'error', details: {} });
  });

  it('rate-limit sends the configured Retry-After and message', async () => {
    emulator.state.addFault({ kind: 'rate-limit', retryAfter: '7', message: 'slow down' });
    const answer = await upload(emulator.origin);
    expect(answer.headers['retry-after']).toBe('7');
    expect(answer.json).toEqual(crmError('TOO_MANY_REQUESTS', 'slow down'));
  });

  it('html answers a 502 HTML error page by default', async () => {
    emulator.state.addFault({ kind: 'html' });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(502);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.text).toMatch(/^<!DOCTYPE html>/);
    expect(answer.text).toContain('502 Bad Gateway');
    expect(lastRequest(emulator.state.requests)).toMatchObject({ status: 502, code: null });
  });

  it('html sends the configured status and page', async () => {
    emulator.state.addFault({ kind: 'html', status: 200, body: '<html><body>login</body></html>' });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('<html><body>login</body></html>');
  });

  it('empty-body answers 200 with a zero-length body that claims to be JSON', async () => {
    emulator.state.addFault({ kind: 'empty-body' });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-length']).toBe('0');
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.text).toBe('');
  });

  it('empty-body sends the configured status and content type', async () => {
    emulator.state.addFault({ kind: 'empty-body', status: 503, contentType: 'text/plain' });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(503);
    expect(answer.headers['content-type']).toBe('text/plain');
    expect(answer.text).toBe('');
  });

  it('respond sends status, content type and body verbatim, logging a JSON code', async () => {
    const body = '{"code":"SOMETHING_NEW","details":{"api_name":"file"},"message":"new","status":"error"}';
    emulator.state.addFault({ kind: 'respond', status: 418, body });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(418);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.text).toBe(body);
    expect(lastRequest(emulator.state.requests)).toMatchObject({ status: 418, code: 'SOMETHING_NEW' });
  });

  it('respond can send a body that is not JSON', async () => {
    emulator.state.addFault({ kind: 'respond', status: 200, contentType: 'text/plain', body: 'OK then' });
    const answer = await upload(emulator.origin);
    expect(answer.headers['content-type']).toBe('text/plain');
    expect(answer.text).toBe('OK then');
    expect(lastRequest(emulator.state.requests).code).toBeNull();
  });
});

describe('hang', () => {
  it('reads the body and never answers, until the client gives up', async () => {
    emulator.state.addFault({ kind: 'hang' });
    const bytes = png(1, 1, 20_000);
    const giveUp = new AbortController();
    const pending = upload(emulator.origin, { bytes, signal: giveUp.signal });
    const entry = await waitFor(() => {
      const e = emulator.state.requests[0];
      return e !== undefined && e.contentLength !== null && e.bytesReceived === Number(e.contentLength) ? e : undefined;
    }, 2000, 'the whole body');
    expect(entry.state).toBe('receiving');
    const raced = await Promise.race([pending.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    expect(raced).toBe('waiting');
    expect(entry.status).toBeNull();
    giveUp.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => entry.state === 'aborted', 2000, 'abort');
  });

  it('turns into an aborted request when the client gives up', async () => {
    emulator.state.addFault({ kind: 'hang' });
    await expect(
      request(`${emulator.origin}${photoPath()}`, {
        method: 'POST',
        headers: { authorization: TOKEN_HEADER },
        body: 'x',
        headersTimeout: 200,
        dispatcher: agent,
      }),
    ).rejects.toThrow(/timeout/i);
    await waitFor(() => emulator.state.requests[0]?.state === 'aborted', 2000, 'abort');
    expect(emulator.state.requests[0]?.bytesReceived).toBe(1);
  });

  it('close() destroys the hung connection and resolves', async () => {
    const own = await startCrmEmulator();
    own.state.addFault({ kind: 'hang' });
    const client = await RawClient.connect(own.origin);
    await client.head('GET', photoPath(), { authorization: TOKEN_HEADER });
    await waitFor(() => own.state.requests.length === 1, 2000, 'the request');
    const started = Date.now();
    await own.close();
    await client.closed;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(own.state.requests[0]?.state).toBe('aborted');
    await expect(RawClient.connect(own.origin)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('reset-mid-body', () => {
  it('drops the connection after afterBytes body bytes, without an answer', async () => {
    emulator.state.addFault({ kind: 'reset-mid-body', afterBytes: 4096 });
    const size = 2_000_000;
    await expect(upload(emulator.origin, { bytes: png(1, 1, size) })).rejects.toThrow();
    const entry = await waitFor(() => emulator.state.requests[0], 2000, 'the request');
    expect(entry).toMatchObject({ state: 'aborted', status: null, code: null });
    expect(entry.bytesReceived).toBeGreaterThanOrEqual(4096);
    expect(entry.bytesReceived).toBeLessThan(size);
    expect(emulator.state.photo('Leads', '1000000000001')).toBeUndefined();
  });

  it('resets after 1024 bytes by default, and at once with afterBytes 0', async () => {
    emulator.state.addFault({ kind: 'reset-mid-body' });
    emulator.state.addFault({ kind: 'reset-mid-body', afterBytes: 0 });
    const first = await partialUpload(emulator.origin, 100_000, 2000);
    expect(await first.response()).toBeUndefined();
    expect(emulator.state.requests[0]?.bytesReceived).toBeGreaterThanOrEqual(1024);
    const second = await RawClient.connect(emulator.origin);
    await second.head('POST', photoPath(), { authorization: TOKEN_HEADER, 'content-length': '10' });
    expect(await second.response()).toBeUndefined();
    expect(emulator.state.requests[1]).toMatchObject({ state: 'aborted', bytesReceived: 0 });
  });

  it('gives no answer to a body shorter than afterBytes either', async () => {
    emulator.state.addFault({ kind: 'reset-mid-body', afterBytes: 1_000_000 });
    await expect(upload(emulator.origin)).rejects.toThrow();
    expect(emulator.state.requests[0]).toMatchObject({ state: 'aborted', status: null });
  });
});

describe('answers that misbehave after the headers', () => {
  it('trickle-answer: the headers at once, then the body one byte per intervalMs', async () => {
    emulator.state.addFault({ kind: 'trickle-answer', intervalMs: 20, body: '{"code":"SUCCESS"}' });
    const started = performance.now();
    const response = await request(`${emulator.origin}${photoPath()}`, {
      method: 'POST',
      headers: { authorization: TOKEN_HEADER, 'content-type': 'text/plain' },
      body: 'x',
      dispatcher: agent,
    });
    const headersAfter = performance.now() - started;
    expect(response.statusCode).toBe(200);
    const chunks: number[] = [];
    for await (const chunk of response.body) chunks.push((chunk as Buffer).length);
    expect(chunks.reduce((a, b) => a + b, 0)).toBe('{"code":"SUCCESS"}'.length);
    expect(chunks.length).toBeGreaterThan(5);
    expect(performance.now() - started - headersAfter).toBeGreaterThanOrEqual(15 * 17);
  });

  it('endless-answer: a body that goes on for as long as the client reads', async () => {
    emulator.state.addFault({ kind: 'endless-answer' });
    const response = await request(`${emulator.origin}${photoPath()}`, {
      method: 'POST',
      headers: { authorization: TOKEN_HEADER, 'content-type': 'text/plain' },
      body: 'x',
      dispatcher: agent,
    });
    let received = 0;
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length;
      if (received > 4 * 1024 * 1024) break;
    }
    expect(received).toBeGreaterThan(4 * 1024 * 1024);
    expect(emulator.state.requests[0]).toMatchObject({ state: 'answered', status: 200 });
  });

  it('echo-authorization: an error whose message carries the Authorization header verbatim', async () => {
    emulator.state.addFault({ kind: 'echo-authorization' });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'INVALID_DATA', status: 'error', message: expect.stringContaining(TOKEN_HEADER) });
  });

  it('early-reject with code SUCCESS announces a success before the photo has arrived', async () => {
    emulator.state.addFault({ kind: 'early-reject', status: 200, code: 'SUCCESS', close: true });
    const client = await partialUpload(emulator.origin, 1_000_000, 100);
    const response = await client.response();
    expect(response?.status).toBe(200);
    expect(JSON.parse(response!.body.toString())).toEqual({ code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' });
    await client.closed;
  });

  it('refuses echo-authorization on the accounts server, and an intervalMs of 0', () => {
    expect(() => emulator.state.addFault({ kind: 'echo-authorization', target: 'accounts' })).toThrow(/does not apply to target 'accounts'/);
    expect(() => emulator.state.addFault({ kind: 'trickle-answer', intervalMs: 0 })).toThrow(/'intervalMs' must be an integer from 1/);
  });
});

describe('early-reject', () => {
  it('answers 401 INVALID_TOKEN on the headers, before the body has arrived, and keeps the connection', async () => {
    emulator.state.addFault({ kind: 'early-reject' });
    const client = await partialUpload(emulator.origin, 1_000_000, 1000);
    try {
      const response = await client.response();
      expect(response?.status).toBe(401);
      expect(response?.headers['content-type']).toBe('application/json;charset=UTF-8');
      expect(JSON.parse(response!.body.toString())).toEqual(crmError('INVALID_TOKEN', 'invalid oauth token'));
      const entry = emulator.state.requests[0]!;
      expect(entry).toMatchObject({ state: 'answered', status: 401, code: 'INVALID_TOKEN' });
      expect(entry.bytesReceived).toBeLessThan(1_000_000);
      // The client may keep sending; the emulator keeps counting what it discards.
      await client.write(Buffer.alloc(5000));
      await waitFor(() => entry.bytesReceived >= 5000, 2000, 'the later bytes');
      expect(client.isClosed).toBe(false);
    } finally {
      client.destroy();
    }
  });

  it('with close: true, drops the connection right after the answer', async () => {
    emulator.state.addFault({ kind: 'early-reject', close: true, status: 400, code: 'RECORD_LOCKED' });
    const client = await partialUpload(emulator.origin, 1_000_000, 100);
    const response = await client.response();
    expect(response?.status).toBe(400);
    expect(JSON.parse(response!.body.toString())).toEqual(
      crmError('RECORD_LOCKED', 'You cannot perform this operation as the record is locked.'),
    );
    await client.closed;
    expect(emulator.state.requests[0]).toMatchObject({ state: 'answered', status: 400, code: 'RECORD_LOCKED' });
  });

  it('sends a configured message and an unknown code as given', async () => {
    emulator.state.addFault({ kind: 'early-reject', status: 403, code: 'BRAND_NEW', message: 'no way' });
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual(crmError('BRAND_NEW', 'no way'));
  });
});

describe('the fault queue', () => {
  it('applies a fault once by default, then answers normally', async () => {
    emulator.state.addFault({ kind: 'internal-error' });
    expect((await upload(emulator.origin)).status).toBe(500);
    expect((await upload(emulator.origin)).status).toBe(200);
    expect(emulator.state.faults).toEqual([]);
  });

  it('applies a fault `times` times, and with times 0 until reset', async () => {
    emulator.state.addFault({ kind: 'internal-error', times: 2 });
    expect((await upload(emulator.origin)).status).toBe(500);
    expect(emulator.state.faults[0]?.remaining).toBe(1);
    expect((await upload(emulator.origin)).status).toBe(500);
    expect((await upload(emulator.origin)).status).toBe(200);
    emulator.state.addFault({ kind: 'rate-limit', times: 0 });
    for (let i = 0; i < 4; i += 1) expect((await upload(emulator.origin)).status).toBe(429);
    expect(emulator.state.faults[0]?.remaining).toBeNull();
    emulator.state.reset();
    expect((await upload(emulator.origin)).status).toBe(200);
  });

  it('applies only to requests matching module (any case) and record, first match first', async () => {
    emulator.state.addFault({ kind: 'internal-error', match: { module: 'contacts' } });
    emulator.state.addFault({ kind: 'rate-limit', match: { recordId: '1000000000002' } });
    emulator.state.addFault({ kind: 'html', match: { module: 'Contacts', recordId: '1000000000002' } });
    expect((await upload(emulator.origin, { module: 'Leads' })).status).toBe(200);
    expect((await upload(emulator.origin, { module: 'CONTACTS', recordId: '1000000000002' })).status).toBe(500);
    expect((await upload(emulator.origin, { module: 'Contacts', recordId: '1000000000002' })).status).toBe(429);
    expect((await upload(emulator.origin, { module: 'Contacts', recordId: '1000000000002' })).status).toBe(502);
    expect((await upload(emulator.origin, { module: 'Contacts', recordId: '1000000000002' })).status).toBe(200);
  });

  it('applies an unmatched fault to any API request, even one to an unknown path', async () => {
    emulator.state.addFault({ kind: 'internal-error' });
    expect((await call(emulator.origin, 'GET', '/elsewhere')).status).toBe(500);
  });

  it('can be driven through the control API', async () => {
    const added = await control(emulator.origin, 'POST', 'faults', { kind: 'rate-limit', retryAfter: '2', times: 1 });
    expect(added.json).toMatchObject({ ok: true, fault: { kind: 'rate-limit', retryAfter: '2', remaining: 1 } });
    expect((await control(emulator.origin, 'GET', 'faults')).json).toHaveLength(1);
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('2');
  });

  it.each([
    [{ kind: 'explode' }, /'kind' must be one of latency, internal-error/],
    [{ kind: 'latency' }, /needs 'delayMs'/],
    [{ kind: 'latency', delayMs: -1 }, /'delayMs' must be an integer from 0/],
    [{ kind: 'hang', delayMs: 10 }, /'delayMs' does not apply to kind 'hang'/],
    [{ kind: 'html', status: 99 }, /'status' must be an integer from 200 to 599/],
    [{ kind: 'internal-error', times: 1.5 }, /'times' must be an integer/],
    [{ kind: 'rate-limit', retryAfter: '1\r\nX-Evil: 1' }, /'retryAfter' must not contain control characters/],
    [{ kind: 'hang', match: { module: 'Leads', record: '1' } }, /unknown fault field 'match.record'/],
    [{ kind: 'early-reject', close: 'yes' }, /'close' must be a boolean/],
  ])('refuses the fault %j', (spec, message) => {
    expect(() => emulator.state.addFault(spec as never)).toThrow(message);
  });
});
