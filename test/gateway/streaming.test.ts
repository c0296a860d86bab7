import { once } from 'node:events';
import { expect, it } from 'vitest';
import { png, withPadding } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { useStack } from '../support/stack.ts';

const stack = useStack({}, { resetEachTest: false });

it('the CRM receives the first bytes of the file while the client is still sending it', async () => {
  const file = withPadding(png(320, 240), 4 * 1024 * 1024);
  const body = multipartBody([...uploadParts(), { name: '0', filename: 'slow.png', contentType: 'image/png', data: file }]);
  const firstPart = body.subarray(0, body.indexOf(file.subarray(0, 64)) + 512 * 1024);
  const rest = body.subarray(firstPart.length);
  let clientStillSending = true;

  const response = postRaw(stack.url, {
    headers: { 'transfer-encoding': 'chunked' },
    write: async (request) => {
      request.write(firstPart);
      // hold the rest back until the CRM has seen file bytes: a buffering gateway would never get here
      const log = await stack.crm.waitFor((entries) => (entries[0]?.bytesReceived ?? 0) > 0, 10_000);
      expect(log[0]?.state).toBe('receiving');
      expect(clientStillSending).toBe(true);
      for (let offset = 0; offset < rest.length; offset += 256 * 1024) {
        if (!request.write(rest.subarray(offset, offset + 256 * 1024))) await once(request, 'drain');
      }
      clientStillSending = false;
      request.end();
    },
  });

  const { json } = await response;
  expect(clientStillSending).toBe(false);
  expect(json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: file.length } });
  const [request] = await stack.crm.requests();
  expect(request?.transferEncoding).toBe('chunked');
  expect(request?.firstByteAt).not.toBeNull();
  const stored = await stack.crm.photo('Leads', '1000000000001');
  expect(stored?.bytes.equals(Buffer.from(file))).toBe(true);
});

it('opens the CRM call once 64 KiB of the file are in: the CRM sees bytes while the client still holds back the rest', async () => {
  const before = (await stack.crm.requests()).length;
  const file = withPadding(png(320, 240), 1024 * 1024);
  const body = multipartBody([...uploadParts(), { name: '0', filename: 'lead.png', contentType: 'image/png', data: file }]);
  // 80 KiB of the file: past the look-ahead the CRM slot waits for, well short of the 256 KiB a JPEG may be sniffed in.
  const firstPart = body.subarray(0, body.indexOf(file.subarray(0, 64)) + 80 * 1024);
  const response = postRaw(stack.url, {
    headers: { 'transfer-encoding': 'chunked' },
    write: async (request) => {
      request.write(firstPart);
      const log = await stack.crm.waitFor((entries) => (entries[before]?.bytesReceived ?? 0) > 0, 10_000);
      expect(log[before]?.state).toBe('receiving');
      request.end(body.subarray(firstPart.length));
    },
  });
  const { json } = await response;
  expect(json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: file.length } });
});
