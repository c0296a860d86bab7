import { request } from 'node:http';
import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { BOUNDARY, multipartBody, uploadParts } from '../support/raw-multipart.ts';
import { useStack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

const stack = useStack({}, { resetEachTest: false });

function postJson(body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(stack.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

it('refuses a JSON body declared over 1 MB with 413 before reading it', async () => {
  const body = JSON.stringify({ query: '{ __typename }', padding: 'x'.repeat(1_100_000) });
  const response = await postJson(body, { 'content-length': String(Buffer.byteLength(body)) });
  expect(response.status).toBe(413);
  expect(JSON.parse(response.text).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
});

it('asks a JSON body without a declared length for one (411)', async () => {
  const response = await postJson('{"query":"{ __typename }"}', { 'transfer-encoding': 'chunked' });
  expect(response.status).toBe(411);
  expect(JSON.parse(response.text).errors[0].extensions.code).toBe('LENGTH_REQUIRED');
});

it('answers an ordinary JSON query', async () => {
  const body = '{"query":"{ __typename }"}';
  const response = await postJson(body, { 'content-length': String(body.length) });
  expect(JSON.parse(response.text)).toEqual({ data: { __typename: 'Query' } });
});

it('cuts a chunked multipart body that runs past 25 MB, after answering, and keeps serving', async () => {
  await stack.crm.reset();
  const parts = multipartBody([...uploadParts(), { name: '0', filename: 'a.png', contentType: 'image/png', data: png(8, 8) }]);
  // the upload is complete and answered; an unmapped field then goes on and on
  const opening = Buffer.concat([
    parts.subarray(0, parts.lastIndexOf(`--${BOUNDARY}--`)),
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="padding"\r\n\r\n`),
  ]);
  const url = new URL(stack.url);
  const socket = connect(Number(url.port), url.hostname);
  let response = '';
  socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  const chunk = (data: Buffer) => `${data.length.toString(16)}\r\n${data.toString('latin1')}\r\n`;
  socket.write(
    `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      'Transfer-Encoding: chunked\r\nAuthorization: Zoho-oauthtoken emulator-token\r\napollo-require-preflight: true\r\n\r\n',
  );
  socket.write(chunk(opening), 'latin1');
  const junk = chunk(Buffer.alloc(1024 * 1024, 0x41));
  let sentMiB = 0;
  while (sentMiB < 60 && !socket.destroyed) {
    sentMiB++;
    if (!socket.write(junk, 'latin1')) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
  }
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  expect(response).toMatch(/^HTTP\/1\.1 200/);
  expect(response).toContain('UploadRecordPhotoSuccess');
  expect(socket.destroyed).toBe(true);
  expect(sentMiB).toBeLessThan(60);
  expect(resultOf(await uploadPhoto(stack.url, { file: png(4, 4) })).__typename).toBe('UploadRecordPhotoSuccess');
});
