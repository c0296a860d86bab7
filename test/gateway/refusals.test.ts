import { describe, expect, it } from 'vitest';
import {
  bmp,
  commentSegment,
  exifSegment,
  gif,
  jpeg,
  pdf,
  png,
  setJpegFrameMarker,
  textFile,
  webp,
  withJpegSegments,
  withPadding,
} from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { useStack } from '../support/stack.ts';
import { resultOf, uploadPhoto, type UploadArgs } from '../support/upload-client.ts';

// What the gateway decides itself, from the arguments and the bytes, before or instead of the CRM.

const stack = useStack();

const upload = (args: UploadArgs) => uploadPhoto(stack.url, args).then(resultOf);
const expectNoCrmCall = async () => expect(await stack.crm.requests()).toEqual([]);

describe('record ids are checked before anything else', () => {
  it.each(['abc', '', ' 1000000000001', '12345678901234567890', '../Leads/1000000000001', '1000000000001/photo?x=1', '1e5', '-1', '１２３'])(
    '%j → INVALID_RECORD_ID with no CRM call',
    async (recordId) => {
      expect(await upload({ file: png(10, 10), recordId })).toMatchObject({
        __typename: 'InvalidRecordError',
        code: 'INVALID_RECORD_ID',
        recordId,
        resolution: expect.stringContaining('1 to 19 decimal digits'),
      });
      await expectNoCrmCall();
    },
  );

  it('accepts 19 digits', async () => {
    expect(await upload({ file: png(10, 10), recordId: '9223372036854775807' })).toMatchObject({ code: 'INVALID_DATA' });
  });
});

describe('credentials', () => {
  it.each([null, 'Basic dXNlcjpwYXNz', 'Bearer', 'emulator-token'])('%j → MISSING_CREDENTIALS with no CRM call', async (authorization) => {
    expect(await upload({ file: png(10, 10), authorization })).toMatchObject({
      __typename: 'AuthenticationError',
      code: 'MISSING_CREDENTIALS',
      resolution: expect.stringContaining('Zoho-oauthtoken'),
    });
    await expectNoCrmCall();
  });

  it('never echoes the token it was given', async () => {
    const response = await uploadPhoto(stack.url, { file: png(10, 10), authorization: 'Zoho-oauthtoken 1000.secret-token-value' });
    expect(JSON.stringify(response.body)).not.toContain('secret-token-value');
  });
});

describe('the bytes decide the format, not the client', () => {
  it.each([
    ['a PDF', pdf()],
    ['a text file', textFile('hello, this is not a picture')],
    ['a WebP', webp(100, 100)],
    ['a truncated PNG', png(10, 10).subarray(0, 20)],
    ['a JPEG whose frame header is beyond the look-ahead', withJpegSegments(jpeg(16, 16), ...Array.from({ length: 5 }, () => commentSegment(60_000)))],
  ])('%s → UNSUPPORTED_FORMAT with no CRM call', async (_name, file) => {
    expect(await upload({ file, clientContentType: 'image/png', filename: 'photo.png' })).toMatchObject({
      __typename: 'PhotoRejectedError',
      code: 'UNSUPPORTED_IMAGE_FORMAT',
      reason: 'UNSUPPORTED_FORMAT',
      message: expect.stringContaining('not a PNG, JPEG, GIF or BMP'),
    });
    await expectNoCrmCall();
  });

  it('an empty file → EMPTY with no CRM call', async () => {
    expect(await upload({ file: new Uint8Array(0) })).toMatchObject({
      __typename: 'PhotoRejectedError',
      code: 'EMPTY_FILE',
      reason: 'EMPTY',
    });
    await expectNoCrmCall();
  });

  it('more than 10,000,000 pixels → TOO_MANY_PIXELS with no CRM call', async () => {
    expect(await upload({ file: png(4000, 2501) })).toMatchObject({
      __typename: 'PhotoRejectedError',
      code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
      reason: 'TOO_MANY_PIXELS',
      maxPixels: 10_000_000,
      message: expect.stringContaining('4000×2501'),
    });
    await expectNoCrmCall();
  });

  it('exactly 10,000,000 pixels is allowed', async () => {
    expect(await upload({ file: png(4000, 2500) })).toMatchObject({ __typename: 'UploadRecordPhotoSuccess' });
  });

  it.each([
    ['PNG', png(640, 480), 'image/png', 640, 480],
    ['baseline JPEG', jpeg(1024, 768), 'image/jpeg', 1024, 768],
    ['progressive JPEG', setJpegFrameMarker(jpeg(300, 200), 0xc2), 'image/jpeg', 300, 200],
    ['JPEG with its frame header behind 180 KB of metadata', withJpegSegments(jpeg(50, 40), exifSegment(60_000), commentSegment(60_000), commentSegment(60_000)), 'image/jpeg', 50, 40],
    ['GIF', gif(20, 30), 'image/gif', 20, 30],
    ['top-down BMP', bmp(7, 5, { topDown: true }), 'image/bmp', 7, 5],
  ])('%s is sent with the sniffed type, whatever the client claims', async (_name, file, contentType, width, height) => {
    const result = await upload({ file, clientContentType: 'text/plain', filename: 'upload.bin' });
    expect(result).toMatchObject({
      __typename: 'UploadRecordPhotoSuccess',
      photo: { contentType, width, height, byteSize: file.length, filename: 'upload.bin' },
    });
    const stored = await stack.crm.photo('Leads', '1000000000001');
    expect(stored?.contentType).toBe(contentType);
    expect(stored?.bytes.equals(Buffer.from(file))).toBe(true);
  });
});

describe('size', () => {
  const LIMIT = 10 * 1024 * 1024;

  it('exactly 10 MiB is uploaded whole', async () => {
    const file = withPadding(png(100, 100), LIMIT);
    expect(await upload({ file })).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: LIMIT } });
    expect((await stack.crm.photo('Leads', '1000000000001'))?.bytes.length).toBe(LIMIT);
  });

  it('one byte more → TOO_MANY_BYTES: the CRM request is aborted and nothing is stored', async () => {
    const file = withPadding(png(100, 100), LIMIT + 1);
    expect(await upload({ file })).toMatchObject({
      __typename: 'PhotoRejectedError',
      code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
      reason: 'TOO_MANY_BYTES',
      maxBytes: LIMIT,
    });
    const log = await stack.crm.waitFor((entries) => entries.length === 1 && entries[0]!.state !== 'receiving');
    expect(log[0]?.state).toBe('aborted');
    expect(await stack.crm.photo('Leads', '1000000000001')).toBeNull();
  });

  it('a far larger file is refused the same way, and the rest of it is drained for the answer', async () => {
    const file = withPadding(png(100, 100), 2 * LIMIT);
    expect(await upload({ file })).toMatchObject({ reason: 'TOO_MANY_BYTES' });
    expect(await upload({ file: png(10, 10) })).toMatchObject({ __typename: 'UploadRecordPhotoSuccess' });
  });

  it('a body declared larger than 25 MB is refused with HTTP 413 before it is read', async () => {
    const response = await uploadPhoto(stack.url, { file: withPadding(png(100, 100), 3 * LIMIT) });
    expect(response.status).toBe(413);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    await expectNoCrmCall();
  });
});

describe('the request sent to the CRM', () => {
  it('targets the module API name and record, with no query unless asked', async () => {
    await upload({ file: png(10, 10), recordId: '1000000000003', module: 'CONTACTS', restrictWorkflow: false });
    const [request] = await stack.crm.requests();
    expect(request).toMatchObject({ method: 'POST', path: '/crm/v7/Contacts/1000000000003/photo', query: {} });
  });

  it('adds restrict_triggers=workflow when restrictWorkflow is true', async () => {
    await upload({ file: png(10, 10), restrictWorkflow: true });
    const [request] = await stack.crm.requests();
    expect(request?.query).toEqual({ restrict_triggers: 'workflow' });
  });

  it('converts a Bearer token and passes a Zoho-oauthtoken through', async () => {
    await upload({ file: png(10, 10), authorization: 'Bearer emulator-token' });
    await upload({ file: png(10, 10), authorization: 'Zoho-oauthtoken emulator-token' });
    const log = await stack.crm.requests();
    expect(log.map((r) => r.authorization)).toEqual(['Zoho-oauthtoken emulator-token', 'Zoho-oauthtoken emulator-token']);
  });

  it('sends the cleaned file name in the multipart field "file"', async () => {
    const response = await postRaw(stack.url, {
      body: multipartBody([
        ...uploadParts(),
        { name: '0', filenameStar: '..\\..\\secret\\"evil"\r\nX-Injected: 1\u202E.png', contentType: 'image/png', data: png(10, 10) },
      ]),
    });
    expect(response.json?.data?.uploadRecordPhoto).toMatchObject({ photo: { filename: '"evil"X-Injected: 1.png' } });
    const [request] = await stack.crm.requests();
    // quotes travel escaped, as browsers send them; no CR/LF reaches the CRM's part headers
    expect(request?.file).toMatchObject({ filename: '%22evil%22X-Injected: 1.png', contentType: 'image/png' });
  });
});
