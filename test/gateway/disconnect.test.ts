import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { png, withPadding } from '../fixtures/images.ts';
import { BOUNDARY, multipartBody, uploadParts } from '../support/raw-multipart.ts';
import { useStack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

const stack = useStack({}, { resetEachTest: false });

function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const resource of process.getActiveResourcesInfo()) counts[resource] = (counts[resource] ?? 0) + 1;
  return counts;
}

/** Connections the gateway's server holds open. */
function connectionCount(): Promise<number> {
  return new Promise((resolve) => stack.gateway.server.getConnections((_error, count) => resolve(count)));
}

async function settle<T>(check: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

it('a client that disconnects mid-upload makes the gateway abort its CRM request, and leaves nothing behind', async () => {
  expect(resultOf(await uploadPhoto(stack.url, { file: png(4, 4) })).__typename).toBe('UploadRecordPhotoSuccess');
  await stack.crm.reset();
  // The warm-up upload's keep-alive connection would idle on for seconds: closed now, the counts start from none.
  stack.gateway.server.closeIdleConnections();
  expect(await settle(connectionCount, (n) => n === 0)).toBe(0);
  const before = resourceCounts();

  const file = withPadding(png(64, 64), 6 * 1024 * 1024);
  const body = multipartBody([...uploadParts(), { name: '0', filename: 'gone.png', contentType: 'image/png', data: file }]);
  const url = new URL(stack.url);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => {});
  socket.write(
    `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `Content-Length: ${body.length}\r\nAuthorization: Zoho-oauthtoken emulator-token\r\napollo-require-preflight: true\r\n\r\n`,
  );
  socket.write(body.subarray(0, 1024 * 1024));
  await stack.crm.waitFor((log) => (log[0]?.bytesReceived ?? 0) > 0);
  const abortedAt = Date.now();
  socket.destroy();

  const log = await stack.crm.waitFor((entries) => entries[0]?.state === 'aborted', 5_000);
  expect(log[0]!.endedAt! - abortedAt).toBeLessThan(2_000);
  expect(await stack.crm.photo('Leads', '1000000000001')).toBeNull();

  // no socket, handle or timer left behind on the gateway's side
  expect(await settle(connectionCount, (n) => n === 0)).toBe(0);
  const after = await settle(resourceCounts, (counts) =>
    Object.entries(counts).every(([name, n]) => n <= (before[name] ?? 0)),
  );
  for (const [name, n] of Object.entries(after)) expect(n, name).toBeLessThanOrEqual(before[name] ?? 0);

  // and it keeps serving
  expect(resultOf(await uploadPhoto(stack.url, { file: png(4, 4) })).__typename).toBe('UploadRecordPhotoSuccess');
});
