import type { Readable } from 'node:stream';
import { readCrmAnswer } from '../crm/answers.ts';
import type { CredentialProvider } from '../crm/credentials.ts';
import type { PhotoUploader } from '../crm/photo-client.ts';
import {
  FAILURE_TYPE_NAMES,
  crmAnswerUnusable,
  crmTransportFailed,
  slotRefused,
  invalidRecordId,
  missingCredentials,
  photoRejected,
  resizeBusy,
  serviceTokenUnavailable,
  verdictOfCrmAnswer,
  type CrmFailure,
} from './failures.ts';
import { cleanFilename } from './filename.ts';
import type { ImageInfo } from './image-sniffer.ts';
import { JpegMetadataFilter } from './jpeg-metadata-filter.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS, SLOT_LOOKAHEAD_BYTES, SNIFF_LOOKAHEAD_BYTES } from './limits.ts';
import { fitPhoto, RESIZABLE_FORMATS, resizeInputLimit } from './photo-fitter.ts';
import { PhotoTooLargeError, photoContent, readLookahead, readPhotoHead, readWholePhoto, type ChunkFilter } from './photo-stream.ts';
import type { ResizeLane } from './resize-lane.ts';
import { StreamReader, UploadStreamError } from './stream-reader.ts';
import type { UploadObserver, UploadReport } from './upload-report.ts';

/** A file as the transport hands it over: a name the client chose and a stream not yet read. */
export interface IncomingFile {
  filename: string | null;
  stream: Readable;
}

export interface RecordPhotoRequest {
  moduleApiName: string;
  recordId: string;
  restrictWorkflow: boolean;
  /** Scale a photo over the pixel limit down to fit rather than refuse it; absent: the gateway's default (PHOTO_FIT_TO_LIMITS). */
  fitToLimits?: boolean | undefined;
  callerAuthorization: string | null;
  /** Resolved once the transport reaches the file's part; rejects with an UploadStreamError if it never does. */
  file: () => Promise<IncomingFile>;
  /** Aborted when the client goes away: anything under way for it stops. */
  signal?: AbortSignal;
  /** Who is calling (a hash of its credential, or its address), for its share of the CRM slots. */
  caller?: string;
  /** The transport's id for this request, for the upload's report. */
  requestId?: string;
}

export interface UploadedPhoto {
  filename: string;
  contentType: ImageInfo['mimeType'];
  format: ImageInfo['format'];
  /** What the CRM received: the bytes sent, and the pixels of the image sent. */
  byteSize: number;
  width: number;
  height: number;
  /** true when the gateway scaled the photo down to fit; then the original* fields are what the client sent. */
  resized: boolean;
  originalWidth: number;
  originalHeight: number;
  /** true when GPS data was found and left out of what the CRM received. */
  locationRemoved: boolean;
}

export type RecordPhotoOutcome =
  | { ok: true; record: { moduleApiName: string; id: string }; photo: UploadedPhoto; message: string }
  | { ok: false; failure: CrmFailure };

const RECORD_ID = /^\d{1,19}$/;

export interface RecordPhotoServiceOptions {
  /** How long the client may send nothing while its upload is being forwarded. */
  uploadIdleTimeoutMs: number;
  /** The least the client must send, on average, while we wait on it (0 or absent: no floor); see StreamReader. */
  uploadMinBytesPerSecond?: number;
  /** The longest one file may take to arrive, from its first byte to its last (0 or absent: no ceiling). */
  uploadMaxMs?: number;
  /** Told about every upload once it has ended, however it ended. */
  observer?: UploadObserver;
  /** Phone photos: scaling down to fit, location and metadata. Absent: forwarded as sent, as before. */
  phonePhotos?: PhonePhotoOptions;
}

export interface PhonePhotoOptions {
  /** PHOTO_FIT_TO_LIMITS: what a request that does not say gets. */
  fitToLimitsByDefault: boolean;
  /** PHOTO_STRIP_LOCATION: GPS data leaves every JPEG sent to the CRM. */
  stripLocation: boolean;
  /** PHOTO_STRIP_METADATA: EXIF, XMP, IPTC and comments leave every JPEG sent to the CRM. */
  stripMetadata: boolean;
  /** PHOTO_JPEG_QUALITY: the first quality a scaled-down JPEG is written at. */
  jpegQuality: number;
  /** Where photos wait for, and take, their turn to be scaled down. */
  lane: ResizeLane;
}

/** The file as it goes to the CRM, and how to describe it once the CRM took it. */
interface Outgoing {
  filename: string;
  contentType: ImageInfo['mimeType'];
  content: AsyncIterable<Uint8Array>;
  /** Read once the upload is over: by then every byte sent is counted. */
  photo: () => UploadedPhoto;
}

/** What an upload got to before it ended: filled in as it goes, reported once at the end. */
type Progress = Pick<UploadReport, 'crmStatus' | 'bytesForwarded' | 'queuedMs' | 'crmMs' | 'resize' | 'locationRemoved'>;

export const SUCCESS_TYPE_NAME = 'UploadRecordPhotoSuccess';

const failed = (failure: CrmFailure): RecordPhotoOutcome => ({ ok: false, failure });

/** Validates, sniffs and streams one record photo to the CRM, and says how it went. Knows neither GraphQL nor sockets. */
export class RecordPhotoService {
  readonly #client: PhotoUploader;
  readonly #credentials: CredentialProvider;
  readonly #options: RecordPhotoServiceOptions;

  constructor(client: PhotoUploader, credentials: CredentialProvider, options: RecordPhotoServiceOptions) {
    this.#client = client;
    this.#credentials = credentials;
    this.#options = options;
  }

  /**
   * Resolves with the outcome the caller is told about. Rejects with an UploadStreamError when the client's own
   * upload failed (a request error); any other rejection is a bug in the gateway.
   */
  async upload(request: RecordPhotoRequest): Promise<RecordPhotoOutcome> {
    const started = performance.now();
    const progress: Progress = { crmStatus: null, bytesForwarded: 0, queuedMs: null, crmMs: null };
    const report = (ended: Pick<UploadReport, 'outcome' | 'code' | 'error'>) =>
      this.#options.observer?.uploadEnded({
        requestId: request.requestId,
        moduleApiName: request.moduleApiName,
        recordId: request.recordId,
        ...progress,
        ...ended,
        totalMs: performance.now() - started,
      });
    let outcome: RecordPhotoOutcome;
    try {
      outcome = await this.#upload(request, progress);
    } catch (error) {
      report({ outcome: null, code: null, error });
      throw error;
    }
    if (outcome.ok) report({ outcome: SUCCESS_TYPE_NAME, code: null });
    else report({ outcome: FAILURE_TYPE_NAMES[outcome.failure.kind], code: outcome.failure.code });
    return outcome;
  }

  async #upload(request: RecordPhotoRequest, progress: Progress): Promise<RecordPhotoOutcome> {
    const { moduleApiName, recordId } = request;
    if (!RECORD_ID.test(recordId)) return failed(invalidRecordId({ moduleApiName, recordId }));
    const credential = await this.#credentials.authorizationFor(request.callerAuthorization);
    if (!credential.ok) {
      return failed(credential.reason === 'missing' ? missingCredentials(moduleApiName) : serviceTokenUnavailable(moduleApiName, credential.detail));
    }
    const file = await request.file();
    const reader = new StreamReader(file.stream, {
      idleTimeoutMs: this.#options.uploadIdleTimeoutMs,
      minBytesPerSecond: this.#options.uploadMinBytesPerSecond ?? 0,
      maxMs: this.#options.uploadMaxMs ?? 0,
    });
    try {
      return await this.#sniffAndSend(request, credential.authorization, file, reader, progress);
    } finally {
      reader.release();
    }
  }

  async #sniffAndSend(
    request: RecordPhotoRequest,
    authorization: string,
    file: IncomingFile,
    reader: StreamReader,
    progress: Progress,
  ): Promise<RecordPhotoOutcome> {
    const { moduleApiName, recordId } = request;
    const head = await readPhotoHead(reader, SNIFF_LOOKAHEAD_BYTES);
    if (head.bytes.length === 0) return failed(photoRejected({ reason: 'EMPTY' }, moduleApiName));
    if (head.sniff.status !== 'image') {
      const detail = head.sniff.status === 'unsupported' ? head.sniff.reason : 'the image header is incomplete';
      return failed(photoRejected({ reason: 'UNSUPPORTED_FORMAT', detail }, moduleApiName));
    }
    const image = head.sniff.image;
    const phone = this.#options.phonePhotos;
    const filename = cleanFilename(file.filename, image.mimeType);
    if (image.width * image.height > MAX_PHOTO_PIXELS) {
      const fit = request.fitToLimits ?? phone?.fitToLimitsByDefault ?? false;
      if (!fit || !phone || !RESIZABLE_FORMATS.has(image.format)) {
        return failed(photoRejected({ reason: 'TOO_MANY_PIXELS', width: image.width, height: image.height }, moduleApiName));
      }
      // Refused on its header alone, before a byte more is read: decoding it would take more memory than the gateway has.
      const scaleLimit = resizeInputLimit(image, head.bytes);
      if (image.width * image.height > scaleLimit.pixels) {
        return failed(photoRejected({ reason: 'TOO_MANY_PIXELS', width: image.width, height: image.height, scaleLimit }, moduleApiName));
      }
      return this.#fitAndSend(request, authorization, { filename, image, head: head.bytes, reader, phone }, progress);
    }

    // The slot is taken as late as streaming allows: once the look-ahead is in (or the whole file, if smaller).
    const lookahead = await readLookahead(head.bytes, reader, SLOT_LOOKAHEAD_BYTES);
    const filter = image.format === 'JPEG' && phone && (phone.stripLocation || phone.stripMetadata)
      ? new JpegMetadataFilter({ stripLocation: phone.stripLocation, stripMetadata: phone.stripMetadata })
      : undefined;
    const content = photoContent(lookahead, reader, MAX_PHOTO_BYTES, filter satisfies ChunkFilter | undefined);
    return this.#send(request, authorization, progress, {
      filename,
      contentType: image.mimeType,
      content: content.chunks,
      photo: () => ({
        filename,
        contentType: image.mimeType,
        format: image.format,
        byteSize: content.byteSize,
        width: image.width,
        height: image.height,
        resized: false,
        originalWidth: image.width,
        originalHeight: image.height,
        locationRemoved: filter?.locationRemoved ?? false,
      }),
    });
  }

  /**
   * A photo over the pixel limit, to scale down: a place in the resize lane first (held until the CRM has the photo;
   * the photo is read whole, at most MAX_PHOTO_BYTES), then a turn to resize, and only then a CRM slot.
   */
  async #fitAndSend(
    request: RecordPhotoRequest,
    authorization: string,
    photo: { filename: string; image: ImageInfo; head: Buffer; reader: StreamReader; phone: PhonePhotoOptions },
    progress: Progress,
  ): Promise<RecordPhotoOutcome> {
    const { moduleApiName } = request;
    const { image, phone } = photo;
    const place = await phone.lane.enter(request);
    if (!place.ok) return this.#laneRefused(place.refusal, moduleApiName);
    // The place is held until the CRM has the photo: so the photos held whole, as sent or as resized, stay bounded.
    try {
      const resized = await this.#resize(request, photo, progress);
      if (!resized.ok) return resized.outcome;
      const result = resized.fitted;
      return await this.#send(request, authorization, progress, {
        filename: photo.filename,
        contentType: result.mimeType,
        content: (async function* () {
          yield result.bytes;
        })(),
        photo: () => ({
          filename: photo.filename,
          contentType: result.mimeType,
          format: result.format,
          byteSize: result.bytes.length,
          width: result.width,
          height: result.height,
          resized: true,
          originalWidth: image.width,
          originalHeight: image.height,
          locationRemoved: result.locationRemoved,
        }),
      });
    } finally {
      place.release();
    }
  }

  /** Reads the photo whole and scales it down in a turn of the lane; the sent bytes are let go as soon as it is done. */
  async #resize(
    request: RecordPhotoRequest,
    photo: { image: ImageInfo; head: Buffer; reader: StreamReader; phone: PhonePhotoOptions },
    progress: Progress,
  ): Promise<{ ok: true; fitted: Extract<Awaited<ReturnType<typeof fitPhoto>>, { ok: true }> } | { ok: false; outcome: RecordPhotoOutcome }> {
    const { moduleApiName } = request;
    const { image, phone } = photo;
    let input: Buffer;
    try {
      input = await readWholePhoto(photo.head, photo.reader, MAX_PHOTO_BYTES);
    } catch (error) {
      if (error instanceof PhotoTooLargeError) return { ok: false, outcome: failed(photoRejected({ reason: 'TOO_MANY_BYTES' }, moduleApiName)) };
      throw error;
    }
    // Known only from the first scan header, which the sniffed head may not have reached.
    const scaleLimit = resizeInputLimit(image, input);
    if (image.width * image.height > scaleLimit.pixels) {
      return { ok: false, outcome: failed(photoRejected({ reason: 'TOO_MANY_PIXELS', width: image.width, height: image.height, scaleLimit }, moduleApiName)) };
    }
    const turn = await phone.lane.turn(request);
    if (!turn.ok) return { ok: false, outcome: this.#laneRefused(turn.refusal, moduleApiName) };
    const resizeStarted = performance.now();
    let fitted: Awaited<ReturnType<typeof fitPhoto>>;
    try {
      fitted = await fitPhoto(input, image, phone, request.signal);
    } finally {
      turn.release();
    }
    if (!fitted.ok && fitted.problem === 'cancelled') return { ok: false, outcome: this.#laneRefused({ kind: 'cancelled' }, moduleApiName) };
    if (!fitted.ok) {
      const defect = fitted.problem === 'too-large' ? ({ reason: 'TOO_MANY_BYTES' } as const) : ({ reason: 'UNSUPPORTED_FORMAT', detail: fitted.detail } as const);
      return { ok: false, outcome: failed(photoRejected(defect, moduleApiName)) };
    }
    progress.resize = {
      from: `${image.width}x${image.height}`,
      to: `${fitted.width}x${fitted.height}`,
      queuedMs: turn.queuedMs,
      ms: performance.now() - resizeStarted,
    };
    return { ok: true, fitted };
  }

  #laneRefused(refusal: { kind: 'cancelled' } | { kind: 'queue-refused'; retryAfterSeconds: number }, moduleApiName: string): RecordPhotoOutcome {
    if (refusal.kind === 'cancelled') throw new UploadStreamError('client-gone', 'The upload stream failed: the client went away');
    return failed(resizeBusy(moduleApiName, refusal.retryAfterSeconds));
  }

  /** Sends the file to the CRM (in a CRM slot) and turns the reply into the outcome the caller is told. */
  async #send(request: RecordPhotoRequest, authorization: string, progress: Progress, outgoing: Outgoing): Promise<RecordPhotoOutcome> {
    const { moduleApiName, recordId } = request;
    const reply = await this.#client.uploadPhoto({
      target: { moduleApiName, recordId },
      restrictWorkflow: request.restrictWorkflow,
      authorization,
      file: { filename: outgoing.filename, contentType: outgoing.contentType, content: outgoing.content },
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.caller ? { caller: request.caller } : {}),
    });
    const sent = outgoing.photo();
    progress.bytesForwarded = sent.byteSize;
    if (sent.locationRemoved) progress.locationRemoved = true;
    progress.queuedMs = reply.timings?.queuedMs ?? null;
    progress.crmMs = reply.timings?.crmMs ?? null;
    if (reply.kind === 'answered') progress.crmStatus = reply.answer.status;
    if (reply.kind === 'answer-unusable') progress.crmStatus = reply.unusable.status;

    switch (reply.kind) {
      case 'source-failed':
        if (reply.error instanceof PhotoTooLargeError) return failed(photoRejected({ reason: 'TOO_MANY_BYTES' }, moduleApiName));
        throw reply.error; // an UploadStreamError: the client's request broke; anything else is a bug
      case 'cancelled':
        throw new UploadStreamError('client-gone', 'The upload stream failed: the client went away');
      case 'queue-refused':
        return failed(slotRefused(moduleApiName, reply));
      case 'transport-failed':
        return failed(crmTransportFailed(reply.failure, moduleApiName));
      case 'answer-unusable':
        return failed(crmAnswerUnusable(reply.unusable, moduleApiName));
      case 'answered': {
        // The credential we sent never goes back out in the CRM's words, to the caller or to a log.
        const verdict = verdictOfCrmAnswer(readCrmAnswer(reply.answer, { sentAuthorization: authorization }), { moduleApiName, recordId });
        if (!verdict.ok) {
          // A refusal stands even when it came early (a CRM may refuse on the headers alone).
          if (verdict.failure.code === 'INVALID_TOKEN') this.#credentials.rejected(authorization);
          return verdict;
        }
        // A success is one only if the CRM had the whole file.
        if (reply.incompleteBody) return failed(crmAnswerUnusable({ problem: 'incomplete-body', status: reply.answer.status }, moduleApiName));
        return {
          ok: true,
          record: { moduleApiName, id: recordId },
          message: verdict.message,
          photo: outgoing.photo(),
        };
      }
    }
  }
}
