import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CrmAnswer } from '../../src/crm/answers.ts';
import { PassThroughCredentials, type CredentialProvider, type CrmCredential } from '../../src/crm/credentials.ts';
import type { PhotoUploader, PhotoUploadReply, PhotoUploadRequest, TransportFailure } from '../../src/crm/photo-client.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS, SNIFF_LOOKAHEAD_BYTES } from '../../src/photos/limits.ts';
import { PhotoTooLargeError } from '../../src/photos/photo-stream.ts';
import { UploadStreamError } from '../../src/photos/stream-reader.ts';
import { RecordPhotoService, type IncomingFile, type RecordPhotoRequest } from '../../src/photos/upload-record-photo.ts';
import { jpeg, pdf, png, setPngDimensions, withPadding } from '../fixtures/images.ts';

const IDLE_MS = 1_000;

const crmJson = (status: number, code: string, message: string): CrmAnswer => ({
  status,
  contentType: 'application/json;charset=UTF-8',
  retryAfter: null,
  body: JSON.stringify({ data: [{ code, details: {}, message, status: code === 'SUCCESS' ? 'success' : 'error' }] }),
});
const SUCCESS = crmJson(200, 'SUCCESS', 'photo uploaded successfully');

/**
 * Stands in for the CRM client: reads `request.file.content` to its end (or until it throws), as the client's
 * request body does, then answers what the test asks for. A content error becomes `source-failed`, as in the client.
 */
class FakeUploader implements PhotoUploader {
  readonly requests: PhotoUploadRequest[] = [];
  /** Every byte read from the content, in order. */
  readonly consumed: Buffer[] = [];
  contentError: unknown;
  onChunk: (chunk: Uint8Array, index: number) => void = () => {};
  readonly #reply: (uploader: FakeUploader) => PhotoUploadReply | Promise<PhotoUploadReply>;
  constructor(reply: (uploader: FakeUploader) => PhotoUploadReply | Promise<PhotoUploadReply>) {
    this.#reply = reply;
  }

  get consumedBytes(): Buffer {
    return Buffer.concat(this.consumed);
  }

  async uploadPhoto(request: PhotoUploadRequest): Promise<PhotoUploadReply> {
    this.requests.push(request);
    try {
      let index = 0;
      for await (const chunk of request.file.content) {
        this.consumed.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        this.onChunk(chunk, index++);
      }
    } catch (error) {
      this.contentError = error;
      return { kind: 'source-failed', error };
    }
    return this.#reply(this);
  }
}

const answering = (answer: CrmAnswer) => new FakeUploader(() => ({ kind: 'answered', answer }));

/** A byte stream as the multipart parser hands it over (not object mode), in the given chunks. */
const fileStream = (...chunks: Uint8Array[]): Readable => Readable.from(chunks.map((c) => Buffer.from(c)), { objectMode: false });

const request = (file: IncomingFile | (() => Promise<IncomingFile>), overrides: Partial<RecordPhotoRequest> = {}): RecordPhotoRequest => ({
  moduleApiName: 'Contacts',
  recordId: '3000000038009',
  restrictWorkflow: false,
  callerAuthorization: 'Bearer 1000.token',
  file: typeof file === 'function' ? file : async () => file,
  ...overrides,
});

const service = (uploader: PhotoUploader, credentials: CredentialProvider = new PassThroughCredentials()) =>
  new RecordPhotoService(uploader, credentials, { uploadIdleTimeoutMs: IDLE_MS });

/** Splits bytes into pieces of `size`, so the service sees a file arrive in several chunks. */
function pieces(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) out.push(bytes.subarray(offset, offset + size));
  return out;
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RecordPhotoService: refused before the CRM is called', () => {
  it.each(['', 'abc', '12a', '-1', '12345678901234567890', '3000000038009 '])('refuses record id %j without a CRM call', async (recordId) => {
    const uploader = answering(SUCCESS);
    const file = vi.fn(async () => ({ filename: 'a.png', stream: fileStream(png(1, 1)) }));
    const outcome = await service(uploader).upload(request(file, { recordId }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'invalid-record', code: 'INVALID_RECORD_ID', recordId } });
    expect(uploader.requests).toHaveLength(0);
    expect(file).not.toHaveBeenCalled();
  });

  it.each([null, '', 'Basic dXNlcjpwYXNz'])('answers MISSING_CREDENTIALS for authorization %j without a CRM call', async (callerAuthorization) => {
    const uploader = answering(SUCCESS);
    const outcome = await service(uploader).upload(request({ filename: 'a.png', stream: fileStream(png(1, 1)) }, { callerAuthorization }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'authentication', code: 'MISSING_CREDENTIALS' } });
    expect(uploader.requests).toHaveLength(0);
  });

  it('answers AUTHENTICATION_FAILURE with the detail when the provider has no token to give', async () => {
    const uploader = answering(SUCCESS);
    const credentials: CredentialProvider = {
      authorizationFor: async (): Promise<CrmCredential> => ({ ok: false, reason: 'unavailable', detail: 'the accounts server answered 500' }),
      rejected: vi.fn(),
    };
    const outcome = await service(uploader, credentials).upload(request({ filename: 'a.png', stream: fileStream(png(1, 1)) }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'authentication', code: 'AUTHENTICATION_FAILURE' } });
    expect(!outcome.ok && outcome.failure.message).toContain('the accounts server answered 500');
    expect(uploader.requests).toHaveLength(0);
  });

  it('refuses an empty file without a CRM call', async () => {
    const uploader = answering(SUCCESS);
    const outcome = await service(uploader).upload(request({ filename: 'empty.png', stream: fileStream() }));
    expect(outcome).toMatchObject({
      ok: false,
      failure: { kind: 'photo-rejected', code: 'EMPTY_FILE', reason: 'EMPTY', maxBytes: MAX_PHOTO_BYTES, maxPixels: MAX_PHOTO_PIXELS },
    });
    expect(uploader.requests).toHaveLength(0);
  });

  it('refuses a file that is not a supported image without a CRM call', async () => {
    const uploader = answering(SUCCESS);
    const outcome = await service(uploader).upload(request({ filename: 'report.png', stream: fileStream(pdf()) }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'photo-rejected', code: 'UNSUPPORTED_IMAGE_FORMAT', reason: 'UNSUPPORTED_FORMAT' } });
    expect(uploader.requests).toHaveLength(0);
  });

  it('refuses an image with more pixels than the CRM allows without a CRM call', async () => {
    const uploader = answering(SUCCESS);
    const huge = setPngDimensions(png(1, 1), 5000, 2001); // 10,005,000 pixels: just over the limit
    const outcome = await service(uploader).upload(request({ filename: 'huge.png', stream: fileStream(huge) }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'photo-rejected', code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', reason: 'TOO_MANY_PIXELS' } });
    expect(!outcome.ok && outcome.failure.message).toContain('5000×2001');
    expect(uploader.requests).toHaveLength(0);
  });

  it('sends an image of exactly the pixel limit', async () => {
    const uploader = answering(SUCCESS);
    const atLimit = setPngDimensions(png(1, 1), 5000, 2000); // 10,000,000 pixels
    const outcome = await service(uploader).upload(request({ filename: 'big.png', stream: fileStream(atLimit) }));
    expect(outcome).toMatchObject({ ok: true, photo: { width: 5000, height: 2000 } });
    expect(uploader.requests).toHaveLength(1);
  });
});

describe('RecordPhotoService: a photo sent to the CRM', () => {
  it('reports the photo as sent: the bytes consumed, the cleaned name, the sniffed format and size', async () => {
    const photo = jpeg(64, 48);
    const uploader = answering(SUCCESS);
    const stream = fileStream(...pieces(photo, 100));
    const outcome = await service(uploader).upload(
      request({ filename: 'C:\\Users\\me\\holi\u0000day\u202e.jpg', stream }, { moduleApiName: 'Leads', restrictWorkflow: true }),
    );

    expect(uploader.consumedBytes.equals(Buffer.from(photo))).toBe(true);
    expect(outcome).toEqual({
      ok: true,
      record: { moduleApiName: 'Leads', id: '3000000038009' },
      message: 'photo uploaded successfully',
      photo: {
        filename: 'holiday.jpg',
        contentType: 'image/jpeg',
        format: 'JPEG',
        byteSize: photo.length,
        width: 64,
        height: 48,
        resized: false,
        originalWidth: 64,
        originalHeight: 48,
        locationRemoved: false,
      },
    });
    const sent = uploader.requests[0]!;
    expect(sent.target).toEqual({ moduleApiName: 'Leads', recordId: '3000000038009' });
    expect(sent.restrictWorkflow).toBe(true);
    expect(sent.authorization).toBe('Zoho-oauthtoken 1000.token');
    expect(sent.file.filename).toBe('holiday.jpg');
    expect(sent.file.contentType).toBe('image/jpeg');
  });

  it('names a nameless file after its sniffed format and passes the caller signal on', async () => {
    const uploader = answering(SUCCESS);
    const signal = new AbortController().signal;
    const outcome = await service(uploader).upload(request({ filename: null, stream: fileStream(png(3, 2)) }, { signal }));
    expect(outcome).toMatchObject({ ok: true, photo: { filename: 'photo.png', format: 'PNG', contentType: 'image/png', width: 3, height: 2 } });
    expect(uploader.requests[0]!.signal).toBe(signal);
  });

  it('refuses a file larger than MAX_PHOTO_BYTES as TOO_MANY_BYTES; the uploader sees its content throw', async () => {
    const head = png(16, 16);
    const mebibyte = Buffer.alloc(1024 * 1024);
    async function* oversized(): AsyncGenerator<Buffer> {
      yield Buffer.from(head);
      for (let sent = 0; sent <= MAX_PHOTO_BYTES; sent += mebibyte.length) yield mebibyte;
    }
    const uploader = answering(SUCCESS);
    const outcome = await service(uploader).upload(request({ filename: 'big.png', stream: Readable.from(oversized(), { objectMode: false }) }));

    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'photo-rejected', code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', reason: 'TOO_MANY_BYTES' } });
    expect(uploader.contentError).toBeInstanceOf(PhotoTooLargeError);
    expect(uploader.consumedBytes.length).toBeLessThanOrEqual(MAX_PHOTO_BYTES);
    expect(uploader.consumedBytes.length).toBeGreaterThan(MAX_PHOTO_BYTES - 2 * mebibyte.length);
  });

  it('sends a file of exactly MAX_PHOTO_BYTES', async () => {
    const head = Buffer.from(png(16, 16));
    const mebibyte = Buffer.alloc(1024 * 1024);
    async function* exactlyAtLimit(): AsyncGenerator<Buffer> {
      yield head;
      let rest = MAX_PHOTO_BYTES - head.length;
      for (; rest > mebibyte.length; rest -= mebibyte.length) yield mebibyte;
      yield mebibyte.subarray(0, rest);
    }
    const uploader = answering(SUCCESS);
    const outcome = await service(uploader).upload(request({ filename: 'edge.png', stream: Readable.from(exactlyAtLimit(), { objectMode: false }) }));
    expect(outcome).toMatchObject({ ok: true, photo: { byteSize: MAX_PHOTO_BYTES } });
    expect(uploader.consumedBytes.length).toBe(MAX_PHOTO_BYTES);
  });
});

describe('RecordPhotoService: the client upload fails', () => {
  it('rejects with UploadStreamError "broken" when the client stream errors mid-file', async () => {
    const stream = new PassThrough();
    const uploader = answering(SUCCESS);
    const broken = new Error('multipart body ended early');
    uploader.onChunk = (_chunk, index) => {
      if (index === 0) stream.destroy(broken);
    };
    // The CRM is called once the look-ahead is in: send that much before breaking off.
    stream.write(Buffer.from(withPadding(png(8, 8), SNIFF_LOOKAHEAD_BYTES)));
    const error = await rejectionOf(service(uploader).upload(request({ filename: 'a.png', stream })));

    expect(error).toBeInstanceOf(UploadStreamError);
    expect((error as UploadStreamError).failure).toBe('broken');
    expect((error as UploadStreamError).cause).toBe(broken);
    expect(uploader.contentError).toBe(error);
  });

  it('rejects with UploadStreamError "idle" once the client sends nothing for the idle timeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stream = new PassThrough();
    const uploader = answering(SUCCESS);
    let firstChunk!: () => void;
    const gotFirstChunk = new Promise<void>((resolve) => (firstChunk = resolve));
    uploader.onChunk = (_chunk, index) => {
      if (index === 0) firstChunk();
    };
    // The CRM is called once the look-ahead is in: send that much, then nothing.
    stream.write(Buffer.from(withPadding(png(8, 8), SNIFF_LOOKAHEAD_BYTES)));
    let settled: unknown = 'pending';
    const upload = service(uploader).upload(request({ filename: 'a.png', stream }));
    upload.then(
      () => (settled = 'resolved'),
      (error: unknown) => (settled = error),
    );

    await gotFirstChunk;
    await vi.advanceTimersByTimeAsync(0); // the content is now waiting on the client
    await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
    expect(settled).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);

    expect(settled).toBeInstanceOf(UploadStreamError);
    expect((settled as UploadStreamError).failure).toBe('idle');
    expect(uploader.contentError).toBe(settled);
  });

  it('does not time out a client that keeps sending, each pause shorter than the idle timeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stream = new PassThrough();
    const photo = Buffer.from(png(8, 8));
    const uploader = answering(SUCCESS);
    const upload = service(uploader).upload(request({ filename: 'a.png', stream }));
    stream.write(photo);
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(IDLE_MS - 100);
      stream.write(Buffer.alloc(10));
    }
    stream.end();
    await expect(upload).resolves.toMatchObject({ ok: true, photo: { byteSize: photo.length + 30 } });
  });

  it('rejects with UploadStreamError "client-gone" when the CRM call was cancelled', async () => {
    const uploader = new FakeUploader(() => ({ kind: 'cancelled' }));
    const error = await rejectionOf(service(uploader).upload(request({ filename: 'a.png', stream: fileStream(png(2, 2)) })));
    expect(error).toBeInstanceOf(UploadStreamError);
    expect((error as UploadStreamError).failure).toBe('client-gone');
  });

  it('passes on an UploadStreamError the uploader reports as source-failed', async () => {
    const streamError = new UploadStreamError('broken', 'The upload stream failed: reset');
    const uploader = new FakeUploader(() => ({ kind: 'source-failed', error: streamError }));
    const error = await rejectionOf(service(uploader).upload(request({ filename: 'a.png', stream: fileStream(png(2, 2)) })));
    expect(error).toBe(streamError);
  });
});

describe('RecordPhotoService: what the CRM call came to', () => {
  it('reports a refused queue slot as rate-limited, with retryAfterSeconds', async () => {
    const uploader = new FakeUploader(() => ({ kind: 'queue-refused', detail: '4 uploads are in flight', retryAfterSeconds: 7 }));
    const outcome = await service(uploader).upload(request({ filename: 'a.png', stream: fileStream(png(2, 2)) }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'rate-limited', code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 7 } });
    expect(!outcome.ok && outcome.failure.message).toContain('4 uploads are in flight');
  });

  it.each<[TransportFailure, string]>([
    ['timeout', 'CRM_TIMEOUT'],
    ['unreachable', 'CRM_UNREACHABLE'],
    ['connection-lost', 'CRM_UNREACHABLE'],
  ])('reports transport failure %s as a retryable crm-service failure %s', async (failure, code) => {
    const uploader = new FakeUploader(() => ({ kind: 'transport-failed', failure, detail: 'ECONNRESET' }));
    const outcome = await service(uploader).upload(request({ filename: 'a.png', stream: fileStream(png(2, 2)) }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'crm-service', code, retryable: true, crmCode: null, httpStatus: null } });
  });

  it('tells the credential provider about an INVALID_TOKEN answer, with the authorization it gave', async () => {
    const credentials = new PassThroughCredentials();
    const rejected = vi.spyOn(credentials, 'rejected');
    const uploader = answering(crmJson(401, 'INVALID_TOKEN', 'invalid oauth token'));
    const outcome = await service(uploader, credentials).upload(
      request({ filename: 'a.png', stream: fileStream(png(2, 2)) }, { callerAuthorization: 'Bearer 1000.expired' }),
    );
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'authentication', code: 'INVALID_TOKEN', message: 'invalid oauth token' } });
    expect(rejected).toHaveBeenCalledTimes(1);
    expect(rejected).toHaveBeenCalledWith('Zoho-oauthtoken 1000.expired');
  });

  it('leaves the credential provider alone on other refusals', async () => {
    const credentials = new PassThroughCredentials();
    const rejected = vi.spyOn(credentials, 'rejected');
    const uploader = answering(crmJson(401, 'OAUTH_SCOPE_MISMATCH', 'invalid oauth scope'));
    const outcome = await service(uploader, credentials).upload(request({ filename: 'a.png', stream: fileStream(png(2, 2)) }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'permission-denied', code: 'OAUTH_SCOPE_MISMATCH' } });
    expect(rejected).not.toHaveBeenCalled();
  });
});

describe('RecordPhotoService: a bug stays a bug', () => {
  it('rejects with the very error an uploader throws, not an UploadStreamError', async () => {
    const bug = new Error('undefined is not a function');
    const uploader: PhotoUploader = {
      uploadPhoto: async () => {
        throw bug;
      },
    };
    const error = await rejectionOf(service(uploader).upload(request({ filename: 'a.png', stream: fileStream(png(2, 2)) })));
    expect(error).toBe(bug);
    expect(error).not.toBeInstanceOf(UploadStreamError);
  });

  it('rejects with the very error of a source-failed reply that is a plain Error, not an UploadStreamError', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    const uploader = new FakeUploader(() => ({ kind: 'source-failed', error: bug }));
    const error = await rejectionOf(service(uploader).upload(request({ filename: 'a.png', stream: fileStream(png(2, 2)) })));
    expect(error).toBe(bug);
    expect(error).not.toBeInstanceOf(UploadStreamError);
  });
});
