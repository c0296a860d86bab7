import { once } from 'node:events';
import { afterEach, expect, it } from 'vitest';
import { png, withPadding } from '../fixtures/images.ts';
import { NODE, start, type Started } from '../support/process.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';

let app: Started | undefined;
afterEach(async () => {
  await app?.stop('SIGKILL');
  app = undefined;
});

async function startApp(graceMs: number): Promise<string> {
  app = start(NODE, ['src/main.ts'], { env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', SHUTDOWN_GRACE_MS: String(graceMs) } });
  return (await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
}

const file = withPadding(png(64, 64), 2 * 1024 * 1024);
const body = multipartBody([...uploadParts(), { name: '0', filename: 'late.png', contentType: 'image/png', data: file }]);

it('on SIGTERM stops accepting, lets the upload in flight finish, then exits 0', async () => {
  const url = await startApp(10_000);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const response = postRaw(url, {
    headers: { 'content-length': String(body.length) },
    write: async (request) => {
      request.write(body.subarray(0, body.length / 2));
      await held;
      request.end(body.subarray(body.length / 2));
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  app!.child.kill('SIGTERM');
  await app!.waitFor(/SIGTERM: no new connections/);
  await expect(fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' })).rejects.toThrow();
  release();
  const { json } = await response;
  expect(json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: file.length } });
  expect(await app!.exited()).toBe(0);
  expect(app!.output()).toContain('Stopped.');
});

it('cuts an upload that outlives SHUTDOWN_GRACE_MS and still exits 0', async () => {
  const url = await startApp(300);
  const response = postRaw(url, {
    headers: { 'content-length': String(body.length) },
    write: async (request) => {
      request.write(body.subarray(0, 1000));
      await once(request, 'close');
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const started = Date.now();
  app!.child.kill('SIGTERM');
  await expect(response).rejects.toThrow();
  expect(await app!.exited()).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000);
});
