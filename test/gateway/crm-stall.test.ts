import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { png, withPadding } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// CRM_RESPONSE_TIMEOUT_MS counts only the time the gateway waits on the CRM, never the time it waits on its client;
// UPLOAD_IDLE_TIMEOUT_MS counts only the time it waits on its client, never the time it waits on the CRM.

let stack: Stack | undefined;
let peer: Server | undefined;
const peerSockets: Socket[] = [];
afterEach(async () => {
  await stack?.close();
  stack = undefined;
  for (const socket of peerSockets.splice(0)) socket.destroy();
  await new Promise<void>((resolve) => (peer ? peer.close(() => resolve()) : resolve()));
  peer = undefined;
});

it('a client slower than CRM_RESPONSE_TIMEOUT_MS, with pauses inside UPLOAD_IDLE_TIMEOUT_MS, still gets its photo uploaded', async () => {
  stack = await startStack({ CRM_RESPONSE_TIMEOUT_MS: '500', UPLOAD_IDLE_TIMEOUT_MS: '1500' });
  const file = withPadding(png(32, 32), 256 * 1024);
  const body = multipartBody([...uploadParts(), { name: '0', filename: 'slow.png', contentType: 'image/png', data: file }]);
  const pieces = 4;
  const response = await postRaw(stack.url, {
    headers: { 'content-length': String(body.length) },
    write: async (request) => {
      // pauses of 800 ms: each longer than the CRM timeout, each inside the idle timeout, all together longer than both
      for (let i = 0; i < pieces; i++) {
        request.write(body.subarray((i * body.length) / pieces, ((i + 1) * body.length) / pieces));
        await new Promise((resolve) => setTimeout(resolve, 800));
      }
      request.end();
    },
  });
  expect(response.json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: file.length } });
  const log = await stack.crm.requests();
  expect(log).toHaveLength(1);
  expect(log[0]!.bytesReceived).toBeGreaterThan(file.length);
});

it('a CRM that stops reading in the middle of the body gives CRM_TIMEOUT, and the gateway lets go of it', async () => {
  let received = 0;
  let stuck = true;
  // Reads the first 64 KiB, then stops: the gateway's writes back up until it gives up.
  peer = createServer((socket) => {
    peerSockets.push(socket);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (stuck && received >= 64 * 1024) socket.pause();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => peer!.listen(0, '127.0.0.1', resolve));
  const { port } = peer.address() as AddressInfo;
  stack = await startStack({ ZOHO_API_DOMAIN: `http://127.0.0.1:${port}`, CRM_RESPONSE_TIMEOUT_MS: '500' });
  const started = performance.now();
  const result = resultOf(await uploadPhoto(stack.url, { file: withPadding(png(64, 64), 9 * 1024 * 1024) }));
  expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'CRM_TIMEOUT', retryable: true });
  expect(performance.now() - started).toBeLessThan(10_000);
  // the gateway closed its connection to the stuck CRM: once read again, the socket ends
  expect(peerSockets).toHaveLength(1);
  const closed = new Promise((resolve) => peerSockets[0]!.once('close', resolve));
  stuck = false;
  peerSockets[0]!.resume();
  await closed;
});

it('time spent in the CRM queue does not count against UPLOAD_IDLE_TIMEOUT_MS', async () => {
  stack = await startStack({ CRM_MAX_CONCURRENCY: '1', UPLOAD_IDLE_TIMEOUT_MS: '400' });
  await stack.crm.addFault({ kind: 'latency', delayMs: 1_200, times: 1 });
  const first = uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000001' });
  await stack.crm.waitFor((log) => log.length === 1);
  const file = withPadding(png(64, 64), 2 * 1024 * 1024);
  const body = multipartBody([...uploadParts({ recordId: '1000000000002' }), { name: '0', filename: 'queued.png', contentType: 'image/png', data: file }]);
  const fileStart = body.indexOf(file.subarray(0, 16));
  const response = await postRaw(stack.url, {
    headers: { 'content-length': String(body.length) },
    write: async (request) => {
      // The gateway waits on us for the image header (its idle timer runs), sniffs it, then queues for the slot
      // three idle timeouts long; only then does it read the rest.
      request.write(body.subarray(0, fileStart + 4));
      await new Promise((resolve) => setTimeout(resolve, 100));
      request.end(body.subarray(fileStart + 4));
    },
  });
  expect(resultOf(await first).__typename).toBe('UploadRecordPhotoSuccess');
  expect(response.json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: file.length } });
});
