/** The resize lane: the CRM slots' queue discipline (bounded, timed, withdrawn, refused not hung), and the service keeping to it. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PassThroughCredentials } from '../../src/crm/credentials.ts';
import type { PhotoUploader, PhotoUploadReply, PhotoUploadRequest } from '../../src/crm/photo-client.ts';
import { MAX_PHOTO_PIXELS } from '../../src/photos/limits.ts';
import { fittedSize } from '../../src/photos/photo-fitter.ts';
import { ResizeLane, type LaneTurn } from '../../src/photos/resize-lane.ts';
import { RecordPhotoService, type PhonePhotoOptions } from '../../src/photos/upload-record-photo.ts';
import type { UploadReport } from '../../src/photos/upload-report.ts';
import { commentSegment, jpeg } from '../fixtures/images.ts';

const lane = (overrides: Partial<ConstructorParameters<typeof ResizeLane>[0]> = {}) =>
  new ResizeLane({ concurrency: 2, maxQueue: 1, queueTimeoutMs: 10_000, maxPerCaller: 10, ...overrides });

function granted(turn: LaneTurn): () => void {
  if (!turn.ok) throw new Error(`expected a turn, got ${JSON.stringify(turn.refusal)}`);
  return turn.release;
}

describe('ResizeLane', () => {
  it('gives at most `concurrency` turns at once; the next waits for a release, in order', async () => {
    const resizes = lane();
    const first = granted(await resizes.turn({}));
    const second = granted(await resizes.turn({}));
    const order: string[] = [];
    const third = resizes.turn({}).then((turn) => {
      order.push('third');
      return turn;
    });
    const fourth = resizes.turn({}).then((turn) => {
      order.push('fourth');
      return turn;
    });
    expect(resizes.load).toEqual({ resizing: 2, waiting: 2 });
    first();
    granted(await third);
    expect(order).toEqual(['third']);
    second();
    granted(await fourth);
    expect(order).toEqual(['third', 'fourth']);
  });

  it('has room for `concurrency + maxQueue` photos; one more is refused at once', async () => {
    const resizes = lane({ concurrency: 2, maxQueue: 1 });
    const held = [granted(await resizes.enter({})), granted(await resizes.enter({})), granted(await resizes.enter({}))];
    expect(await resizes.enter({})).toMatchObject({ ok: false, refusal: { kind: 'queue-refused' } });
    held[0]!();
    granted(await resizes.enter({}));
  });

  it('refuses a wait that runs past the queue timeout', async () => {
    const resizes = lane({ concurrency: 1, queueTimeoutMs: 50 });
    granted(await resizes.turn({}));
    const refused = await resizes.turn({});
    expect(refused).toMatchObject({ ok: false, refusal: { kind: 'queue-refused', retryAfterSeconds: 1 } });
  });

  it('withdraws a waiter whose client left, and frees its place in the queue', async () => {
    const resizes = lane({ concurrency: 1 });
    granted(await resizes.turn({}));
    const client = new AbortController();
    const waiting = resizes.turn({ signal: client.signal });
    expect(resizes.load.waiting).toBe(1);
    client.abort();
    expect(await waiting).toEqual({ ok: false, refusal: { kind: 'cancelled' } });
    expect(resizes.load.waiting).toBe(0);
  });

  it("holds one caller to its share of places, while another caller still gets one", async () => {
    const resizes = lane({ concurrency: 2, maxQueue: 8, maxPerCaller: 2 });
    granted(await resizes.enter({ caller: 'a' }));
    granted(await resizes.enter({ caller: 'a' }));
    expect(await resizes.enter({ caller: 'a' })).toMatchObject({ ok: false, refusal: { kind: 'queue-refused' } });
    granted(await resizes.enter({ caller: 'b' }));
  });
});

describe('fittedSize', () => {
  it.each([
    [4032, 3024],
    [3024, 4032],
    [5000, 5000],
    [9000, 1200],
    [100_000, 1000],
    [10_001, 1000],
  ])('%i×%i: the largest size within the limit, aspect kept', (width, height) => {
    const fitted = fittedSize(width, height);
    expect(fitted.width * fitted.height).toBeLessThanOrEqual(MAX_PHOTO_PIXELS);
    expect((fitted.width + 1) * (fitted.height + 1)).toBeGreaterThan(MAX_PHOTO_PIXELS);
    expect(Math.abs(fitted.width / fitted.height - width / height) / (width / height)).toBeLessThan(0.01);
  });
});

/** Answers success for every photo, after reading it all. */
class Accepting implements PhotoUploader {
  readonly received: PhotoUploadRequest[] = [];
  async uploadPhoto(request: PhotoUploadRequest): Promise<PhotoUploadReply> {
    this.received.push(request);
    for await (const _chunk of request.file.content);
    return {
      kind: 'answered',
      answer: { status: 200, contentType: 'application/json', retryAfter: null, body: JSON.stringify({ data: [{ code: 'SUCCESS', message: 'photo uploaded successfully', status: 'success', details: {} }] }) },
    };
  }
}

describe('RecordPhotoService and the lane', () => {
  const overLimit = jpeg(4000, 2600); // 10.4 MP, flat grey: small, quick to decode
  const phone = (resizes: ResizeLane): PhonePhotoOptions => ({ fitToLimitsByDefault: true, stripLocation: true, stripMetadata: false, jpegQuality: 85, lane: resizes });
  const upload = (service: RecordPhotoService, caller = 'caller') =>
    service.upload({
      moduleApiName: 'Leads',
      recordId: '1000000000001',
      restrictWorkflow: false,
      callerAuthorization: 'Zoho-oauthtoken t',
      caller,
      file: async () => ({ filename: 'big.jpg', stream: Readable.from([Buffer.from(overLimit)], { objectMode: false }) }),
    });

  it('refuses a photo to scale when the lane is full, with no CRM call; takes it once there is room', async () => {
    const resizes = lane({ concurrency: 1, maxQueue: 0 });
    const crm = new Accepting();
    const service = new RecordPhotoService(crm, new PassThroughCredentials(), { uploadIdleTimeoutMs: 1_000, phonePhotos: phone(resizes) });
    const release = granted(await resizes.enter({}));
    const refused = await upload(service);
    expect(refused).toMatchObject({ ok: false, failure: { kind: 'rate-limited', code: 'TOO_MANY_REQUESTS', retryAfterSeconds: expect.any(Number) } });
    expect(crm.received).toHaveLength(0);
    release();
    expect(await upload(service)).toMatchObject({ ok: true, photo: { resized: true, originalWidth: 4000, originalHeight: 2600 } });
    expect(crm.received).toHaveLength(1);
  });

  it('stops a resize whose client left once it had its turn: no CRM call, the turn freed, no resize reported', async () => {
    const client = new AbortController();
    // The client leaves the moment its photo gets a turn: after it was read whole, before it is decoded.
    class LeftAtTurn extends ResizeLane {
      override async turn(request: { signal?: AbortSignal | undefined }): Promise<LaneTurn> {
        const turn = await super.turn(request);
        client.abort();
        return turn;
      }
    }
    const resizes = new LeftAtTurn({ concurrency: 1, maxQueue: 0, queueTimeoutMs: 10_000, maxPerCaller: 10 });
    const crm = new Accepting();
    const reports: UploadReport[] = [];
    const service = new RecordPhotoService(crm, new PassThroughCredentials(), {
      uploadIdleTimeoutMs: 1_000,
      phonePhotos: phone(resizes),
      observer: { uploadEnded: (report) => reports.push(report) },
    });
    const left = service.upload({
      moduleApiName: 'Leads',
      recordId: '1000000000001',
      restrictWorkflow: false,
      callerAuthorization: 'Zoho-oauthtoken t',
      signal: client.signal,
      file: async () => ({ filename: 'big.jpg', stream: Readable.from([Buffer.from(overLimit)], { objectMode: false }) }),
    });
    await expect(left).rejects.toMatchObject({ name: 'UploadStreamError', failure: 'client-gone' });
    expect(crm.received).toHaveLength(0);
    expect(resizes.load).toEqual({ resizing: 0, waiting: 0 });
    expect(reports).toHaveLength(1);
    expect(reports[0]!.resize).toBeUndefined();
  });

  it('refuses a JPEG whose colours come in separate scans once its first scan header arrives, past the sniffed head', async () => {
    const separate = jpeg(4000, 3200, { separateScans: true }); // 12.8 MP
    const sos = separate.findIndex((byte, i) => byte === 0xff && separate[i + 1] === 0xda);
    // A 20 KB comment between the frame header and the first scan, the file sent 1 KB at a time: the sniff is done
    // long before the scan header comes.
    const file = Buffer.concat([separate.subarray(0, sos), commentSegment(20_000), separate.subarray(sos)]);
    const crm = new Accepting();
    const service = new RecordPhotoService(crm, new PassThroughCredentials(), { uploadIdleTimeoutMs: 1_000, phonePhotos: phone(lane()) });
    const outcome = await service.upload({
      moduleApiName: 'Leads',
      recordId: '1000000000001',
      restrictWorkflow: false,
      callerAuthorization: 'Zoho-oauthtoken t',
      file: async () => ({ filename: 'scan.jpg', stream: Readable.from(Array.from({ length: Math.ceil(file.length / 1024) }, (_, i) => file.subarray(i * 1024, (i + 1) * 1024))) }),
    });
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'photo-rejected', reason: 'TOO_MANY_PIXELS' } });
    expect(outcome.ok ? '' : outcome.failure.message).toContain('a JPEG whose colours come in separate scans');
    expect(crm.received).toHaveLength(0);
  });

  it('keeps the place until the CRM has the resized photo, so a photo waiting on the CRM still counts', async () => {
    const resizes = lane({ concurrency: 1, maxQueue: 0 });
    let called!: () => void;
    const atCrm = new Promise<void>((resolve) => (called = resolve));
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const slowCrm: PhotoUploader = {
      async uploadPhoto(request) {
        for await (const _chunk of request.file.content);
        called();
        await answered;
        return new Accepting().uploadPhoto({ ...request, file: { ...request.file, content: (async function* () {})() } });
      },
    };
    const service = new RecordPhotoService(slowCrm, new PassThroughCredentials(), { uploadIdleTimeoutMs: 1_000, phonePhotos: phone(resizes) });
    const first = upload(service);
    await atCrm;
    expect(await upload(service, 'another caller')).toMatchObject({ ok: false, failure: { kind: 'rate-limited' } });
    answer();
    expect(await first).toMatchObject({ ok: true });
    granted(await resizes.enter({}));
  });
});
