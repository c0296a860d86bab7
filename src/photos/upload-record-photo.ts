import type { Readable } from 'node:stream';
import { readCrmAnswer } from '../crm/answers.ts';
import type { CredentialProvider } from '../crm/credentials.ts';
import type { PhotoUploader } from '../crm/photo-client.ts';
import {
  FAILURE_TYPE_NAMES,
  crmAnswerUnusable,
  crmTransportFailed,
  gatewayBusy,
  invalidRecordId,
  missingCredentials,
  photoRejected,
  serviceTokenUnavailable,
  verdictOfCrmAnswer,
  type CrmFailure,
} from './failures.ts';
import { cleanFilename } from './filename.ts';
import type { ImageInfo } from './image-sniffer.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS, SNIFF_LOOKAHEAD_BYTES } from './limits.ts';
import { PhotoTooLargeError, photoContent, readLookahead, readPhotoHead } from './photo-stream.ts';
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
  byteSize: number;
  width: number;
  height: number;
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
}

/** What an upload got to before it ended: filled in as it goes, reported once at the end. */
type Progress = Pick<UploadReport, 'crmStatus' | 'bytesForwarded' | 'queuedMs' | 'crmMs'>;

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
    if (image.width * image.height > MAX_PHOTO_PIXELS) {
      return failed(photoRejected({ reason: 'TOO_MANY_PIXELS', width: image.width, height: image.height }, moduleApiName));
    }

    const filename = cleanFilename(file.filename, image.mimeType);
    // The slot is taken as late as streaming allows: once the look-ahead is in (or the whole file, if smaller).
    const lookahead = await readLookahead(head.bytes, reader, SNIFF_LOOKAHEAD_BYTES);
    const content = photoContent(lookahead, reader, MAX_PHOTO_BYTES);
    const reply = await this.#client.uploadPhoto({
      target: { moduleApiName, recordId },
      restrictWorkflow: request.restrictWorkflow,
      authorization,
      file: { filename, contentType: image.mimeType, content: content.chunks },
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.caller ? { caller: request.caller } : {}),
    });
    progress.bytesForwarded = content.byteSize;
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
        return failed(gatewayBusy(moduleApiName, reply.detail, reply.retryAfterSeconds));
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
          photo: {
            filename,
            contentType: image.mimeType,
            format: image.format,
            byteSize: content.byteSize,
            width: image.width,
            height: image.height,
          },
        };
      }
    }
  }
}
