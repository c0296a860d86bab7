import type { Readable } from 'node:stream';
import { readCrmAnswer } from '../crm/answers.ts';
import type { CredentialProvider } from '../crm/credentials.ts';
import type { PhotoFiles } from '../crm/photo-files-client.ts';
import {
  crmTransportFailed,
  slotRefused,
  noPhoto,
  unexpectedCrmAnswer,
  verdictOfCrmAnswer,
  type CrmFailure,
  type PhotoAbsence,
} from './failures.ts';
import { sniffImage, type ImageInfo } from './image-sniffer.ts';
import { SNIFF_LOOKAHEAD_BYTES } from './limits.ts';
import { discardSource, PhotoForward, PhotoSourceError, readSourceHead } from './photo-download-stream.ts';
import { photoFileRequest, type PhotoFileCallRequest } from './photo-file-call.ts';

export type PhotoDownloadRequest = PhotoFileCallRequest;

export interface PhotoDownload {
  /** Sniffed from the bytes, never taken from the CRM's header. */
  image: ImageInfo;
  /** The CRM's Content-Length, when it sent one. */
  byteSize: number | null;
  /**
   * The photo as it arrives from the CRM. Whoever gets it reads it to its end or destroys it: the CRM call (and
   * its slot) lasts until then. It fails with a DownloadStalledError when its reader takes nothing for the idle
   * timeout, and with a PhotoSourceError when the CRM's answer breaks off.
   */
  body: Readable;
  /** Photo bytes handed on from `body` so far. */
  bytesForwarded(): number;
}

export type PhotoDownloadOutcome = (
  | { ok: true; photo: PhotoDownload }
  | { ok: false; failure: CrmFailure }
  /** The record exists and the caller may see it, but it has no photo. */
  | { ok: false; absence: PhotoAbsence }
) & {
  /** The CRM's HTTP status, when it answered (for the logs). */
  crmStatus?: number | null;
};

export interface PhotoDownloadServiceOptions {
  /** How long the client may take none of the photo while the CRM has more for it; also the rate floor's window. */
  idleTimeoutMs: number;
  /** The least the client must read, on average, while the CRM has more for it; 0 or absent: no floor. */
  minBytesPerSecond?: number;
  /** The longest a client may take reading one photo, from its first byte; 0 or absent: no ceiling. */
  maxMs?: number;
}

/** The client went away before the photo started: nothing is left to answer. */
export class DownloadCancelledError extends Error {
  override name = 'DownloadCancelledError';
}

/**
 * Checks, then streams one record photo from the CRM: what it is comes from its first bytes (a bounded look-ahead),
 * the rest follows at the pace the client reads. Knows neither HTTP routes nor sockets.
 */
export class PhotoDownloadService {
  readonly #files: PhotoFiles;
  readonly #credentials: CredentialProvider;
  readonly #options: PhotoDownloadServiceOptions;

  constructor(files: PhotoFiles, credentials: CredentialProvider, options: PhotoDownloadServiceOptions) {
    this.#files = files;
    this.#credentials = credentials;
    this.#options = options;
  }

  /** Rejects with a DownloadCancelledError when the client left before the photo started; any other rejection is a bug. */
  async download(request: PhotoDownloadRequest): Promise<PhotoDownloadOutcome> {
    const { moduleApiName } = request;
    const call = await photoFileRequest(request, this.#credentials);
    if (!call.ok) return call;
    const { target, authorization } = call.request;
    const reply = await this.#files.downloadPhoto(call.request);
    switch (reply.kind) {
      case 'cancelled':
        throw new DownloadCancelledError('the client went away before the photo started');
      case 'queue-refused':
        return { ok: false, failure: slotRefused(moduleApiName, reply) };
      case 'transport-failed':
        return { ok: false, failure: crmTransportFailed(reply.failure, moduleApiName) };
      case 'no-photo':
        return { ok: false, absence: noPhoto(target), crmStatus: 204 };
      case 'answered': {
        const verdict = verdictOfCrmAnswer(readCrmAnswer(reply.answer, { sentAuthorization: authorization }), target, 'read');
        if (!verdict.ok) {
          if (verdict.failure.code === 'INVALID_TOKEN') this.#credentials.rejected(authorization);
          return { ...verdict, crmStatus: reply.answer.status };
        }
        // A success code where the photo should be.
        return { ok: false, failure: unexpectedCrmAnswer(reply.answer.status, 'a CRM answer instead of the photo', moduleApiName), crmStatus: reply.answer.status };
      }
      case 'photo':
        return { ...(await this.#forward(reply.body, reply.status, reply.contentLength, moduleApiName, request.signal)), crmStatus: reply.status };
    }
  }

  async #forward(
    source: Readable,
    status: number,
    contentLength: number | null,
    moduleApiName: string,
    signal: AbortSignal | undefined,
  ): Promise<PhotoDownloadOutcome> {
    let head;
    try {
      head = await readSourceHead(source, SNIFF_LOOKAHEAD_BYTES, (bytes) => sniffImage(bytes, { complete: false }).status !== 'need-more');
    } catch (error) {
      discardSource(source);
      if (signal?.aborted) throw new DownloadCancelledError('the client went away before the photo started');
      const code = (error as { code?: unknown })?.code;
      const timedOut = code === 'UND_ERR_BODY_TIMEOUT';
      if (!timedOut && !(error instanceof PhotoSourceError) && typeof code !== 'string') throw error;
      return { ok: false, failure: crmTransportFailed(timedOut ? 'timeout' : 'connection-lost', moduleApiName) };
    }
    const window = head.bytes.length > SNIFF_LOOKAHEAD_BYTES ? head.bytes.subarray(0, SNIFF_LOOKAHEAD_BYTES) : head.bytes;
    const complete = head.ended || head.bytes.length >= SNIFF_LOOKAHEAD_BYTES;
    const sniff = head.bytes.length === 0 ? null : sniffImage(window, { complete });
    if (sniff === null || sniff.status !== 'image') {
      discardSource(source);
      const what = sniff === null ? 'an empty body' : sniff.status === 'unsupported' ? `bytes that are not an image (${sniff.reason})` : 'an incomplete image header';
      return { ok: false, failure: unexpectedCrmAnswer(status, what, moduleApiName) };
    }
    const body = new PhotoForward(head.bytes, source, {
      idleTimeoutMs: this.#options.idleTimeoutMs,
      minBytesPerSecond: this.#options.minBytesPerSecond ?? 0,
      maxMs: this.#options.maxMs ?? 0,
      ended: head.ended,
    });
    // Whoever streams it listens for its failures; none of them may reach the process as an unhandled 'error'.
    body.on('error', () => {});
    return {
      ok: true,
      photo: { image: sniff.image, byteSize: head.ended ? head.bytes.length : contentLength, body, bytesForwarded: () => body.bytesForwarded },
    };
  }
}
