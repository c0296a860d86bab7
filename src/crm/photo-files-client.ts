import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { CrmAnswer } from './answers.ts';
import type { CrmCallOptions } from './crm-pool.ts';
import { takeCrmSlot } from './crm-slot.ts';
import type { PhotoTarget } from './photo-client.ts';
import { classifyTransportError, type TransportFailure } from './transport-errors.ts';

export type PhotoFilesClientOptions = CrmCallOptions;

export interface PhotoFileRequest {
  target: PhotoTarget;
  /** The full Authorization header value, `Zoho-oauthtoken …`. */
  authorization: string;
  /** Aborted when the caller no longer wants the answer: the CRM request (and a download's body) is aborted. */
  signal?: AbortSignal;
  /** Who is calling (a hash of its credential, or its address), for its share of the CRM slots. */
  caller?: string;
}

/** Every way a call can end without an answer from the CRM. */
export type PhotoFileNoAnswer =
  | { kind: 'transport-failed'; failure: TransportFailure; detail: string }
  /** Too many calls already in flight to the CRM: nothing was sent. */
  | { kind: 'queue-refused'; detail: string; retryAfterSeconds: number; crmPaused?: true }
  /** The caller's signal fired: whatever was under way was aborted. */
  | { kind: 'cancelled' };

export type PhotoDownloadReply =
  /**
   * The CRM is sending the photo (a 2xx other than 204). `body` is the CRM's own stream, read as it arrives: the
   * caller reads it to its end or destroys it, and only then is the call's CRM slot given back.
   */
  | { kind: 'photo'; status: number; contentType: string | null; contentLength: number | null; body: Readable }
  /** 204: the record has no photo. */
  | { kind: 'no-photo' }
  /** Any other answer (an error code, a page that is not the CRM's), read off in full up to a cap, to be judged. */
  | { kind: 'answered'; answer: CrmAnswer }
  | PhotoFileNoAnswer;

export type PhotoDeleteReply = { kind: 'answered'; answer: CrmAnswer } | PhotoFileNoAnswer;

/** What the download and delete use cases need of a CRM client: their seam for tests. */
export interface PhotoFiles {
  downloadPhoto(request: PhotoFileRequest): Promise<PhotoDownloadReply>;
  deletePhoto(request: PhotoFileRequest): Promise<PhotoDeleteReply>;
}

/** Enough for any JSON answer or error page; more is read off and dropped. */
const MAX_ANSWER_BYTES = 64 * 1024;

type Operation = 'download-photo' | 'delete-photo';

/**
 * Downloads (`GET …/{module}/{record_id}/photo`) and deletes (`DELETE …/photo`) record photos, each call inside a
 * slot of the concurrency limit every CRM call shares. A download holds its slot until its body has been read or
 * destroyed: the CRM counts the call as open until then. Knows HTTP, not GraphQL.
 */
export class PhotoFilesClient implements PhotoFiles {
  /** The keep-alive pool to the CRM origin: shared with the other CRM clients when given, else our own. */
  readonly #agent: Dispatcher;
  readonly #ownsAgent: boolean;
  readonly #options: PhotoFilesClientOptions;

  constructor(options: PhotoFilesClientOptions) {
    this.#options = options;
    this.#ownsAgent = options.pool === undefined;
    this.#agent = options.pool ?? new Agent({ connect: { timeout: options.connectTimeoutMs } });
  }

  photoPath({ moduleApiName, recordId }: PhotoTarget): string {
    return `/crm/${this.#options.apiVersion}/${encodeURIComponent(moduleApiName)}/${encodeURIComponent(recordId)}/photo`;
  }

  async downloadPhoto(request: PhotoFileRequest): Promise<PhotoDownloadReply> {
    return this.#call('download-photo', request, async (response, done) => {
      const status = response.statusCode;
      if (status === 204) {
        await discard(response);
        return { kind: 'no-photo' };
      }
      if (status < 200 || status >= 300) return { kind: 'answered', answer: await readAnswer(response) };
      const length = Number(header(response, 'content-length'));
      const body = response.body;
      // The slot and the call's report wait for the body: read to its end, destroyed, or failed.
      done.defer();
      if (body.closed) done.end();
      else body.once('close', () => done.end());
      return {
        kind: 'photo',
        status,
        contentType: header(response, 'content-type'),
        contentLength: Number.isSafeInteger(length) && length >= 0 ? length : null,
        body,
      };
    });
  }

  async deletePhoto(request: PhotoFileRequest): Promise<PhotoDeleteReply> {
    return this.#call('delete-photo', request, async (response) => ({ kind: 'answered', answer: await readAnswer(response) }));
  }

  /** One CRM call inside a slot; `handle` reads the answer, and may keep the slot until a body it hands on is done. */
  async #call<R extends { kind: string }>(
    operation: Operation,
    request: PhotoFileRequest,
    handle: (response: Dispatcher.ResponseData, done: CallEnd) => Promise<R>,
  ): Promise<R | PhotoFileNoAnswer> {
    const observer = this.#options.observer;
    const slot = await takeCrmSlot(this.#options.limit, request, { queueTimeoutMs: this.#options.queueTimeoutMs, observer });
    if (!slot.ok) return slot.refusal;
    let status: number | null = null;
    const done = new CallEnd(() => {
      slot.release();
      observer?.crmCallEnded?.({ operation, status, durationMs: performance.now() - slot.grantedAt });
    });
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.#agent.request({
          origin: this.#options.apiDomain,
          path: this.photoPath(request.target),
          method: operation === 'download-photo' ? 'GET' : 'DELETE',
          headers: { authorization: request.authorization, accept: operation === 'download-photo' ? '*/*' : 'application/json' },
          ...(request.signal ? { signal: request.signal } : {}),
          // Nothing is sent after the request line and headers: the CRM's time to answer is all it is.
          headersTimeout: this.#options.responseTimeoutMs,
          // Counts only while we read: a body paused because our own client reads slowly does not time out here.
          bodyTimeout: this.#options.responseTimeoutMs,
        });
      } catch (error) {
        if (request.signal?.aborted) return { kind: 'cancelled' };
        return { kind: 'transport-failed', ...classifyTransportError(error) };
      }
      status = response.statusCode;
      try {
        const result = await handle(response, done);
        if (result.kind === 'answered') slot.answered((result as unknown as { answer: CrmAnswer }).answer);
        return result;
      } catch (error) {
        response.body.on('error', () => {}); // undici reports the abort we cause
        response.body.destroy();
        if (request.signal?.aborted) return { kind: 'cancelled' };
        // The CRM sent a status line and then dropped the connection: we have no answer to trust.
        return { kind: 'transport-failed', ...classifyTransportError(error) };
      }
    } finally {
      done.endUnlessDeferred();
    }
  }

  /** Closes our own pool; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.#ownsAgent) await this.#agent.close();
  }

  /** Closes at once, aborting anything in flight. */
  async destroy(): Promise<void> {
    if (this.#ownsAgent) await this.#agent.destroy();
  }
}

/** Ends a call exactly once: when its handler returns, or later, when a body it handed on is done. */
class CallEnd {
  readonly #end: () => void;
  #deferred = false;
  #ended = false;
  constructor(end: () => void) {
    this.#end = end;
  }
  defer(): void {
    this.#deferred = true;
  }
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#end();
  }
  endUnlessDeferred(): void {
    if (!this.#deferred) this.end();
  }
}

function header(response: Dispatcher.ResponseData, name: string): string | null {
  const value = response.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

async function readAnswer(response: Dispatcher.ResponseData): Promise<CrmAnswer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    if (size < MAX_ANSWER_BYTES) chunks.push(buffer.subarray(0, MAX_ANSWER_BYTES - size));
    size += buffer.length;
  }
  return {
    status: response.statusCode,
    contentType: header(response, 'content-type'),
    retryAfter: header(response, 'retry-after'),
    body: Buffer.concat(chunks).toString('utf8'),
  };
}

/** Reads off a body we do not need (a 204 has none), so the connection goes back to the pool. */
async function discard(response: Dispatcher.ResponseData): Promise<void> {
  for await (const _chunk of response.body) {
    // dropped
  }
}
