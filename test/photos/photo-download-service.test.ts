import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CrmAnswer } from '../../src/crm/answers.ts';
import { PassThroughCredentials } from '../../src/crm/credentials.ts';
import type { PhotoDeleteReply, PhotoDownloadReply, PhotoFileRequest, PhotoFiles } from '../../src/crm/photo-files-client.ts';
import { PhotoDeleteService } from '../../src/photos/delete-record-photo.ts';
import { DownloadCancelledError, PhotoDownloadService, type PhotoDownloadOutcome } from '../../src/photos/download-record-photo.ts';
import { DownloadStalledError, PhotoSourceError } from '../../src/photos/photo-download-stream.ts';
import { gif, jpeg, png } from '../fixtures/images.ts';

/** A CRM client that answers what the test says, and remembers what it was asked. */
class FakeFiles implements PhotoFiles {
  readonly asked: PhotoFileRequest[] = [];
  readonly download: (request: PhotoFileRequest) => PhotoDownloadReply;
  readonly remove: (request: PhotoFileRequest) => PhotoDeleteReply;
  constructor(
    download: (request: PhotoFileRequest) => PhotoDownloadReply = () => ({ kind: 'no-photo' }),
    remove: (request: PhotoFileRequest) => PhotoDeleteReply = () => ({ kind: 'answered', answer: crm(200, 'SUCCESS', 'photo deleted') }),
  ) {
    this.download = download;
    this.remove = remove;
  }
  async downloadPhoto(request: PhotoFileRequest) {
    this.asked.push(request);
    return this.download(request);
  }
  async deletePhoto(request: PhotoFileRequest) {
    this.asked.push(request);
    return this.remove(request);
  }
}

function crm(status: number, code: string, message: string): CrmAnswer {
  return { status, contentType: 'application/json', retryAfter: null, body: JSON.stringify({ code, details: {}, message, status: status < 300 ? 'success' : 'error' }) };
}

const photoReply = (body: Readable, contentLength: number | null = null): PhotoDownloadReply => ({
  kind: 'photo',
  status: 200,
  contentType: 'application/octet-stream',
  contentLength,
  body,
});

const request = { moduleApiName: 'Leads', recordId: '1000000000001', callerAuthorization: 'Zoho-oauthtoken t' };

function service(files: PhotoFiles, idleTimeoutMs = 1_000) {
  return new PhotoDownloadService(files, new PassThroughCredentials(), { idleTimeoutMs });
}

async function bytesOf(outcome: PhotoDownloadOutcome): Promise<Buffer> {
  if (!outcome.ok) throw new Error(JSON.stringify(outcome));
  const chunks: Buffer[] = [];
  for await (const chunk of outcome.photo.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('PhotoDownloadService', () => {
  it('sniffs the type from the bytes, not the CRM header, and hands on every byte', async () => {
    const bytes = Buffer.from(jpeg(30, 20));
    const files = new FakeFiles(() => photoReply(Readable.from([bytes.subarray(0, 3), bytes.subarray(3)], { objectMode: false }), bytes.length));
    const outcome = await service(files).download(request);
    expect(outcome).toMatchObject({ ok: true, photo: { image: { format: 'JPEG', mimeType: 'image/jpeg', width: 30, height: 20 }, byteSize: bytes.length } });
    expect((await bytesOf(outcome)).equals(bytes)).toBe(true);
    expect(files.asked).toMatchObject([{ target: { moduleApiName: 'Leads', recordId: '1000000000001' }, authorization: 'Zoho-oauthtoken t' }]);
  });

  it('checks the record id and the credentials before any CRM call', async () => {
    const files = new FakeFiles();
    expect(await service(files).download({ ...request, recordId: '12a' })).toMatchObject({ ok: false, failure: { code: 'INVALID_RECORD_ID' } });
    expect(await service(files).download({ ...request, recordId: '1'.repeat(20) })).toMatchObject({ ok: false, failure: { code: 'INVALID_RECORD_ID' } });
    expect(await service(files).download({ ...request, callerAuthorization: null })).toMatchObject({ ok: false, failure: { code: 'MISSING_CREDENTIALS' } });
    expect(files.asked).toEqual([]);
  });

  it('says NO_PHOTO for a 204', async () => {
    expect(await service(new FakeFiles()).download(request)).toMatchObject({ ok: false, absence: { code: 'NO_PHOTO' } });
  });

  it('maps CRM refusals as uploads do, worded for reading', async () => {
    const answer = (reply: CrmAnswer) => service(new FakeFiles(() => ({ kind: 'answered', answer: reply }))).download(request);
    expect(await answer(crm(401, 'OAUTH_SCOPE_MISMATCH', 'Unauthorized'))).toMatchObject({
      ok: false,
      failure: { kind: 'permission-denied', requiredScope: 'ZohoCRM.modules.leads.READ', resolution: expect.stringContaining('READ') },
    });
    expect(await answer(crm(400, 'RECORD_LOCKED', 'not approved yet'))).toMatchObject({ ok: false, failure: { kind: 'record-locked' } });
    expect(await answer(crm(400, 'INVALID_DATA', 'invalid id'))).toMatchObject({ ok: false, failure: { kind: 'invalid-record' } });
    expect(await answer(crm(200, 'SUCCESS', 'a success, but no photo'))).toMatchObject({ ok: false, failure: { code: 'UNEXPECTED_RESPONSE' } });
  });

  it('refuses bytes that are not an image, or no bytes at all, as an unexpected answer', async () => {
    const html = Buffer.from('<!DOCTYPE html><html><body>Bad gateway</body></html>');
    const source = Readable.from([html], { objectMode: false });
    expect(await service(new FakeFiles(() => photoReply(source))).download(request)).toMatchObject({
      ok: false,
      failure: { code: 'UNEXPECTED_RESPONSE', message: expect.stringContaining('not an image') },
    });
    expect(source.destroyed).toBe(true);
    const empty = Readable.from([], { objectMode: false });
    expect(await service(new FakeFiles(() => photoReply(empty))).download(request)).toMatchObject({
      ok: false,
      failure: { code: 'UNEXPECTED_RESPONSE', message: expect.stringContaining('an empty body') },
    });
  });

  it('turns a CRM answer that breaks off in its first bytes into CRM_UNREACHABLE', async () => {
    const source = new PassThrough();
    source.write(Buffer.from(png(2, 2)).subarray(0, 10));
    setTimeout(() => source.destroy(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })), 10);
    expect(await service(new FakeFiles(() => photoReply(source))).download(request)).toMatchObject({ ok: false, failure: { code: 'CRM_UNREACHABLE' } });
  });

  it('rejects with DownloadCancelledError when the client left before the photo started', async () => {
    await expect(service(new FakeFiles(() => ({ kind: 'cancelled' }))).download(request)).rejects.toBeInstanceOf(DownloadCancelledError);
  });

  it('streams at the pace of its reader: a source larger than every buffer is not read ahead', async () => {
    const head = Buffer.from(png(4, 4));
    let produced = 0;
    const source = new Readable({
      read() {
        produced += 16 * 1024;
        this.push(produced === 16 * 1024 ? Buffer.concat([head, Buffer.alloc(16 * 1024 - head.length)]) : Buffer.alloc(16 * 1024));
      },
    });
    const outcome = await service(new FakeFiles(() => photoReply(source))).download(request);
    if (!outcome.ok) throw new Error('expected a photo');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // the forward's and the source's buffers, nothing more, while nobody reads
    expect(produced).toBeLessThan(512 * 1024);
    outcome.photo.body.destroy();
    expect(source.destroyed).toBe(true);
  });

  it('cuts off a reader that takes nothing for the idle timeout, and destroys the source', async () => {
    const source = new Readable({ read() { this.push(Buffer.alloc(16 * 1024, 1)); } });
    source.unshift(Buffer.from(png(4, 4)));
    const outcome = await service(new FakeFiles(() => photoReply(source)), 100).download(request);
    if (!outcome.ok) throw new Error('expected a photo');
    const failed = new Promise<unknown>((resolve) => outcome.photo.body.once('error', resolve));
    expect(await failed).toBeInstanceOf(DownloadStalledError);
    expect(source.destroyed).toBe(true);
  });

  it('fails the photo stream with a PhotoSourceError when the CRM breaks off mid-photo', async () => {
    const source = new PassThrough();
    source.write(Buffer.from(gif(3, 3)));
    const outcome = await service(new FakeFiles(() => photoReply(source))).download(request);
    if (!outcome.ok) throw new Error('expected a photo');
    const failed = new Promise<unknown>((resolve) => outcome.photo.body.once('error', resolve));
    outcome.photo.body.resume();
    source.destroy(new Error('socket hang up'));
    expect(await failed).toBeInstanceOf(PhotoSourceError);
  });
});

describe('PhotoDeleteService', () => {
  const deleteRequest = { moduleApiName: 'Leads', recordId: '1000000000001', callerAuthorization: 'Bearer t' };

  it("deletes with the caller's token and answers with the CRM's message", async () => {
    const files = new FakeFiles();
    expect(await new PhotoDeleteService(files, new PassThroughCredentials()).delete(deleteRequest)).toEqual({
      ok: true,
      record: { moduleApiName: 'Leads', id: '1000000000001' },
      message: 'photo deleted',
    });
    expect(files.asked).toMatchObject([{ authorization: 'Zoho-oauthtoken t' }]);
  });

  it('needs the DELETE scope, and says so', async () => {
    const files = new FakeFiles(undefined, () => ({ kind: 'answered', answer: crm(401, 'OAUTH_SCOPE_MISMATCH', 'Unauthorized') }));
    expect(await new PhotoDeleteService(files, new PassThroughCredentials()).delete(deleteRequest)).toMatchObject({
      ok: false,
      failure: {
        kind: 'permission-denied',
        requiredScope: 'ZohoCRM.modules.leads.DELETE',
        resolution: expect.stringContaining('ZohoCRM.modules.leads.DELETE'),
      },
    });
  });

  it('words a permission refusal for deleting', async () => {
    const files = new FakeFiles(undefined, () => ({ kind: 'answered', answer: crm(403, 'NO_PERMISSION', 'permission denied') }));
    expect(await new PhotoDeleteService(files, new PassThroughCredentials()).delete(deleteRequest)).toMatchObject({
      ok: false,
      failure: { kind: 'permission-denied', requiredScope: null, resolution: expect.stringContaining('delete this photo') },
    });
  });

  it('never answers with a member the delete result does not have', async () => {
    const files = new FakeFiles(undefined, () => ({ kind: 'answered', answer: crm(415, 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', 'size') }));
    expect(await new PhotoDeleteService(files, new PassThroughCredentials()).delete(deleteRequest)).toMatchObject({
      ok: false,
      failure: { kind: 'crm-service', code: 'UNEXPECTED_RESPONSE' },
    });
  });

  it('checks the record id and credentials first, and maps the gateway queue and the transport', async () => {
    const busy = new FakeFiles(undefined, () => ({ kind: 'queue-refused', detail: 'full', retryAfterSeconds: 3 }));
    const remove = (files: PhotoFiles, overrides = {}) => new PhotoDeleteService(files, new PassThroughCredentials()).delete({ ...deleteRequest, ...overrides });
    expect(await remove(busy, { recordId: 'x' })).toMatchObject({ ok: false, failure: { code: 'INVALID_RECORD_ID' } });
    expect(await remove(busy, { callerAuthorization: null })).toMatchObject({ ok: false, failure: { code: 'MISSING_CREDENTIALS' } });
    expect(busy.asked).toEqual([]);
    expect(await remove(busy)).toMatchObject({ ok: false, failure: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 3 } });
    const down = new FakeFiles(undefined, () => ({ kind: 'transport-failed', failure: 'timeout', detail: 'x' }));
    expect(await remove(down)).toMatchObject({ ok: false, failure: { code: 'CRM_TIMEOUT', retryable: true } });
  });
});
