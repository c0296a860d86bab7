import type { Readable } from 'node:stream';
import type { CredentialProvider } from '../crm/credentials.ts';
import type { CrmErrorCode, CrmFailure, PhotoRejectionReason } from '../crm/failures.ts';
import { crmServiceFailure, interpretPhotoAnswer } from '../crm/answers.ts';
import type { PhotoClient, TransportFailure } from '../crm/photo-client.ts';
import { resolutionFor } from '../crm/resolutions.ts';
import { cleanFilename } from './filename.ts';
import type { ImageInfo } from './image-sniffer.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS, SNIFF_LOOKAHEAD_BYTES } from './limits.ts';
import { photoContent, readPhotoHead } from './photo-stream.ts';
import { StreamReader } from './stream-reader.ts';

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
  /** Resolved once the transport reaches the file's part. */
  file: () => Promise<IncomingFile>;
  /** Aborted when the client goes away: anything under way for it stops. */
  signal?: AbortSignal;
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

/** A client's upload stream failed (it disconnected, stalled, or its multipart body broke): a request error. */
export class UploadStreamError extends Error {
  override name = 'UploadStreamError';
}

export interface RecordPhotoServiceOptions {
  /** How long the client may send nothing while its upload is being forwarded. */
  uploadIdleTimeoutMs: number;
}

function rejected(reason: PhotoRejectionReason, code: CrmErrorCode, message: string, moduleApiName: string): RecordPhotoOutcome {
  return {
    ok: false,
    failure: {
      kind: 'photo-rejected',
      code,
      message,
      resolution: resolutionFor(code, moduleApiName),
      reason,
      maxBytes: MAX_PHOTO_BYTES,
      maxPixels: MAX_PHOTO_PIXELS,
    },
  };
}

const TRANSPORT: Record<TransportFailure, { code: CrmErrorCode; message: string }> = {
  timeout: { code: 'CRM_TIMEOUT', message: 'The CRM did not answer in time.' },
  unreachable: { code: 'CRM_UNREACHABLE', message: 'The gateway could not connect to the CRM.' },
  'connection-lost': { code: 'CRM_UNREACHABLE', message: 'The connection to the CRM was lost before it answered.' },
};

/** Validates, sniffs and streams one record photo to the CRM, and says how it went. Knows neither GraphQL nor sockets. */
export class RecordPhotoService {
  readonly #client: PhotoClient;
  readonly #credentials: CredentialProvider;
  readonly #options: RecordPhotoServiceOptions;

  constructor(client: PhotoClient, credentials: CredentialProvider, options: RecordPhotoServiceOptions) {
    this.#client = client;
    this.#credentials = credentials;
    this.#options = options;
  }

  async upload(request: RecordPhotoRequest): Promise<RecordPhotoOutcome> {
    const { moduleApiName, recordId } = request;
    if (!RECORD_ID.test(recordId)) {
      return {
        ok: false,
        failure: {
          kind: 'invalid-record',
          code: 'INVALID_RECORD_ID',
          message: `'${recordId.slice(0, 40)}' is not a record ID: a record ID is 1 to 19 decimal digits.`,
          resolution: resolutionFor('INVALID_RECORD_ID', moduleApiName),
          recordId,
        },
      };
    }
    const credential = await this.#credentials.authorizationFor(request.callerAuthorization);
    if (!credential.ok) {
      const missing = credential.reason === 'missing';
      const code = missing ? 'MISSING_CREDENTIALS' : 'AUTHENTICATION_FAILURE';
      return {
        ok: false,
        failure: {
          kind: 'authentication',
          code,
          message: missing
            ? 'No CRM access token came with the request.'
            : `The gateway could not obtain a CRM access token: ${credential.detail}.`,
          resolution: missing
            ? resolutionFor(code, moduleApiName)
            : 'Check the gateway\'s CRM client credentials (ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN), or try again later.',
        },
      };
    }
    const { authorization } = credential;

    const file = await request.file();
    const reader = new StreamReader(file.stream, { idleTimeoutMs: this.#options.uploadIdleTimeoutMs });
    try {
      return await this.#sniffAndSend(request, authorization, file, reader);
    } catch (error) {
      throw new UploadStreamError(`The upload stream failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    } finally {
      reader.release();
    }
  }

  async #sniffAndSend(
    request: RecordPhotoRequest,
    authorization: string,
    file: IncomingFile,
    reader: StreamReader,
  ): Promise<RecordPhotoOutcome> {
    const { moduleApiName, recordId } = request;
    const head = await readPhotoHead(reader, SNIFF_LOOKAHEAD_BYTES);
    if (head.bytes.length === 0) return rejected('EMPTY', 'EMPTY_FILE', 'The file is empty.', moduleApiName);
    if (head.sniff.status !== 'image') {
      const reason = head.sniff.status === 'unsupported' ? head.sniff.reason : 'the image header is incomplete';
      return rejected('UNSUPPORTED_FORMAT', 'UNSUPPORTED_IMAGE_FORMAT', `The file is not a PNG, JPEG, GIF or BMP image: ${reason}.`, moduleApiName);
    }
    const image = head.sniff.image;
    if (image.width * image.height > MAX_PHOTO_PIXELS) {
      return rejected(
        'TOO_MANY_PIXELS',
        'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
        `The image is ${image.width}×${image.height} pixels, more than the ${MAX_PHOTO_PIXELS} the CRM allows.`,
        moduleApiName,
      );
    }

    const filename = cleanFilename(file.filename, image.mimeType);
    const content = photoContent(head.bytes, reader, MAX_PHOTO_BYTES);
    const reply = await this.#client.uploadPhoto({
      target: { moduleApiName, recordId },
      restrictWorkflow: request.restrictWorkflow,
      authorization,
      file: { filename, contentType: image.mimeType, content: content.chunks },
      ...(request.signal ? { signal: request.signal } : {}),
    });

    if (content.tooLarge) {
      return rejected('TOO_MANY_BYTES', 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', `The file is larger than ${MAX_PHOTO_BYTES} bytes.`, moduleApiName);
    }
    switch (reply.kind) {
      case 'source-failed':
        throw reply.error;
      case 'cancelled':
        throw Object.assign(new Error('the client went away'), { status: 499 });
      case 'queue-refused':
        return {
          ok: false,
          failure: {
            kind: 'rate-limited',
            code: 'TOO_MANY_REQUESTS',
            message: `The gateway is at its limit of concurrent uploads to the CRM: ${reply.detail}.`,
            resolution: resolutionFor('TOO_MANY_REQUESTS', moduleApiName),
            retryAfterSeconds: reply.retryAfterSeconds,
          },
        };
      case 'transport-failed': {
        const { code, message } = TRANSPORT[reply.failure];
        return {
          ok: false,
          failure: crmServiceFailure(code, message, { retryable: true, crmCode: null, httpStatus: null }, moduleApiName),
        };
      }
      case 'answered': {
        const interpreted = interpretPhotoAnswer(reply.answer, { moduleApiName, recordId });
        if (!interpreted.ok) {
          if (interpreted.failure.code === 'INVALID_TOKEN') this.#credentials.rejected(authorization);
          return interpreted;
        }
        return {
          ok: true,
          record: { moduleApiName, id: recordId },
          message: interpreted.message,
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
