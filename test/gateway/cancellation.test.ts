import { connect, type Socket } from 'node:net';
import { afterEach, expect, it, onTestFinished, vi } from 'vitest';
import { ConcurrencyLimit } from '../../src/crm/concurrency-limit.ts';
import { png, withPadding } from '../fixtures/images.ts';
import { BOUNDARY, multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** Sends a whole upload over a raw socket and leaves the connection open, so the test decides when the client goes. */
function sendWholeUpload(url: string, recordId: string): Socket {
  const body = multipartBody([...uploadParts({ recordId }), { name: '0', filename: 'a.png', contentType: 'image/png', data: png(16, 16) }]);
  const target = new URL(url);
  const socket = connect(Number(target.port), target.hostname);
  socket.on('error', () => {});
  socket.write(
    `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `Content-Length: ${body.length}\r\nAuthorization: Zoho-oauthtoken emulator-token\r\napollo-require-preflight: true\r\n\r\n`,
  );
  socket.write(body);
  return socket;
}

it('a client that leaves while the CRM is still answering makes the gateway abort that CRM request', async () => {
  stack = await startStack({ CRM_RESPONSE_TIMEOUT_MS: '20000' });
  await stack.crm.addFault({ kind: 'hang' });
  const socket = sendWholeUpload(stack.url, '1000000000001');
  await stack.crm.waitFor((log) => (log[0]?.bytesReceived ?? 0) > 0);
  await new Promise((resolve) => setTimeout(resolve, 300)); // the whole (small) body is at the CRM, which says nothing
  expect((await stack.crm.requests())[0]?.state).toBe('receiving');
  const leftAt = Date.now();
  socket.destroy();
  const log = await stack.crm.waitFor((entries) => entries[0]?.state === 'aborted', 5_000);
  expect(log[0]!.endedAt! - leftAt).toBeLessThan(2_000);
});

it('a queued upload whose client leaves never reaches the CRM', async () => {
  // Every request for a CRM slot, as the gateway (in this process) makes it.
  const slotRequests = vi.spyOn(ConcurrencyLimit.prototype, 'acquire');
  onTestFinished(() => slotRequests.mockRestore());
  stack = await startStack({ CRM_MAX_CONCURRENCY: '1', CRM_MAX_QUEUE: '5' });
  await stack.crm.addFault({ kind: 'latency', delayMs: 800, times: 1 });
  const first = uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000001' });
  await stack.crm.waitFor((log) => log.length === 1);
  const queued = sendWholeUpload(stack.url, '1000000000002');
  // The second upload has asked for the only slot, which the first one holds: it waits in the queue.
  await vi.waitFor(() => expect(slotRequests).toHaveBeenCalledTimes(2), { timeout: 5_000, interval: 5 });
  const waiting = slotRequests.mock.results[1]!.value as Promise<() => void>;
  let settled = 'waiting';
  waiting.then(() => (settled = 'given a slot'), () => (settled = 'refused'));
  await new Promise((resolve) => setImmediate(resolve)); // a settled request has run its callbacks by now
  expect(settled).toBe('waiting');
  queued.destroy();
  // it leaves the queue because its client went away, not because the first upload finished
  await expect(waiting).rejects.toThrow('the caller went away');
  expect(resultOf(await first).__typename).toBe('UploadRecordPhotoSuccess');
  expect(resultOf(await uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000003' })).__typename).toBe(
    'UploadRecordPhotoSuccess',
  );
  const log = await stack.crm.requests();
  expect(log.map((r) => r.path)).toEqual(['/crm/v7/Leads/1000000000001/photo', '/crm/v7/Leads/1000000000003/photo']);
});

it('a client that stalls mid-upload gets 408 UPLOAD_TIMEOUT and its CRM request is aborted', async () => {
  stack = await startStack({ UPLOAD_IDLE_TIMEOUT_MS: '300' });
  const file = withPadding(png(32, 32), 1024 * 1024);
  const body = multipartBody([...uploadParts(), { name: '0', filename: 'stall.png', contentType: 'image/png', data: file }]);
  const response = await postRaw(stack.url, {
    headers: { 'content-length': String(body.length) },
    write: async (request) => {
      request.write(body.subarray(0, 400 * 1024));
      // then nothing: the client hangs
    },
  });
  expect(response.status).toBe(408);
  expect(response.json?.errors?.[0]?.extensions?.code).toBe('UPLOAD_TIMEOUT');
  const log = await stack.crm.waitFor((entries) => entries[0]?.state === 'aborted');
  expect(log).toHaveLength(1);
});

it('an early CRM answer leaves no timer behind', async () => {
  stack = await startStack();
  const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
  expect(resultOf(await uploadPhoto(stack.url, { file: png(4, 4) })).__typename).toBe('UploadRecordPhotoSuccess');
  const before = timers();
  for (const close of [false, true, false]) {
    await stack.crm.addFault({ kind: 'early-reject', status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token', close });
    const result = resultOf(await uploadPhoto(stack.url, { file: withPadding(png(64, 64), 3_000_000) }));
    // On an open connection the 401 is read. On one the CRM closes mid-body, whether the gateway reads the 401
    // before its next write fails is a socket race: either answer is right there.
    if (close) expect(['AuthenticationError', 'CrmServiceError']).toContain(result.__typename);
    else expect(result).toMatchObject({ __typename: 'AuthenticationError', code: 'INVALID_TOKEN' });
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(timers()).toBeLessThanOrEqual(before);
});
