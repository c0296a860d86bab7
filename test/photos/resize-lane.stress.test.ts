/** Many photos scaled down at once through RecordPhotoService: the lane bounds the resizes in flight (each a real sharp resize). */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PassThroughCredentials } from '../../src/crm/credentials.ts';
import type { PhotoUploader, PhotoUploadReply, PhotoUploadRequest } from '../../src/crm/photo-client.ts';
import { ResizeLane, type LaneTurn } from '../../src/photos/resize-lane.ts';
import { RecordPhotoService } from '../../src/photos/upload-record-photo.ts';
import { jpeg } from '../fixtures/images.ts';

/** Answers success for every photo, after reading it all. */
class Accepting implements PhotoUploader {
  async uploadPhoto(request: PhotoUploadRequest): Promise<PhotoUploadReply> {
    for await (const _chunk of request.file.content);
    return {
      kind: 'answered',
      answer: { status: 200, contentType: 'application/json', retryAfter: null, body: JSON.stringify({ data: [{ code: 'SUCCESS', message: 'photo uploaded successfully', status: 'success', details: {} }] }) },
    };
  }
}

/** A lane that remembers the most turns it ever had out at once. */
class CountingLane extends ResizeLane {
  out = 0;
  most = 0;
  override async turn(request: { signal?: AbortSignal | undefined }): Promise<LaneTurn> {
    const turn = await super.turn(request);
    if (!turn.ok) return turn;
    this.most = Math.max(this.most, ++this.out);
    return {
      ...turn,
      release: () => {
        this.out -= 1;
        turn.release();
      },
    };
  }
}

describe('RecordPhotoService and the lane, under load', () => {
  const overLimit = jpeg(4000, 2600); // 10.4 MP, flat grey
  const upload = (service: RecordPhotoService) =>
    service.upload({
      moduleApiName: 'Leads',
      recordId: '1000000000001',
      restrictWorkflow: false,
      callerAuthorization: 'Zoho-oauthtoken t',
      caller: 'caller',
      file: async () => ({ filename: 'big.jpg', stream: Readable.from([Buffer.from(overLimit)], { objectMode: false }) }),
    });
  const phone = (resizes: ResizeLane) => ({ fitToLimitsByDefault: true, stripLocation: true, stripMetadata: false, jpegQuality: 85, lane: resizes });

  it('resizes no more photos at once than the lane allows, and every one gets through', async () => {
    const resizes = new CountingLane({ concurrency: 2, maxQueue: 8, queueTimeoutMs: 30_000, maxPerCaller: 10 });
    const service = new RecordPhotoService(new Accepting(), new PassThroughCredentials(), { uploadIdleTimeoutMs: 1_000, phonePhotos: phone(resizes) });
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map(() => upload(service)));
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(resizes.most).toBe(2);
  });
});
