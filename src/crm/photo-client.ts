import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { CrmAnswer } from './answers.ts';
import { ConcurrencyLimit } from './concurrency-limit.ts';
import type { CrmBudget } from './crm-budget.ts';
import type { CrmCallOptions } from './crm-pool.ts';
import { takeCrmSlot } from './crm-slot.ts';
import { multipartEnvelope, type FilePart } from './multipart-body.ts';
import type { CrmTimings } from './observer.ts';
import { classifyTransportError, type TransportFailure } from './transport-errors.ts';

/** As every CRM client, except that it may build its own limit (tests, a client on its own) from the last three. */
export interface PhotoClientOptions extends Omit<CrmCallOptions, 'limit'> {
  /** The gateway's one limit on concurrent CRM calls; absent: one of its own from maxConcurrency, maxQueue, queueTimeoutMs. */
  limit?: CrmBudget;
  maxConcurrency: number;
  maxQueue: number;
}

/** Whose photo: the module's API name and the record's id. */
export interface PhotoTarget {
  moduleApiName: string;
  recordId: string;
}

export interface PhotoUploadRequest {
  target: PhotoTarget;
  restrictWorkflow: boolean;
  /** The full Authorization header value, `Zoho-oauthtoken …`. */
  authorization: string;
  file: FilePart;
  /** Aborted when the caller no longer wants the answer (its client left, the server is shutting down). */
  signal?: AbortSignal;
  /** Who is calling (a hash, never a secret), for its share of the CRM slots; absent: not counted. */
  caller?: string;
}

export type { TransportFailure } from './transport-errors.ts';

/** What made a CRM answer unusable, whatever it said. */
export type UnusableAnswer =
  /** It ran past MAX_ANSWER_READ_BYTES: reading stopped and the connection was closed. */
  | { problem: 'too-large'; status: number; limitBytes: number }
  /** A 2xx that came before the whole request body had gone out, and the connection was lost with the rest. */
  | { problem: 'incomplete-body'; status: number };

export type PhotoUploadReply = (
  | {
      kind: 'answered';
      answer: CrmAnswer;
      /**
       * true: the CRM answered before the whole body had gone out, and the connection did not live to send the rest
       * (undici closes it once such an answer is in). Whatever the answer says, the CRM never had the whole file.
       */
      incompleteBody?: boolean;
    }
  | { kind: 'answer-unusable'; unusable: UnusableAnswer }
  | { kind: 'transport-failed'; failure: TransportFailure; detail: string }
  /** The file's own stream failed (too large, client gone): the CRM request was aborted. */
  | { kind: 'source-failed'; error: unknown }
  /** Too many uploads already in flight to the CRM: nothing was sent. */
  | { kind: 'queue-refused'; detail: string; retryAfterSeconds: number; crmPaused?: true }
  /** The caller's signal fired: whatever was under way was aborted. */
  | { kind: 'cancelled' }
) & {
  /** Set by the client: where the time went. */
  timings?: CrmTimings;
};

/** Enough for any JSON answer or error page: what is kept of an answer to read. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** An answer longer than this is no CRM answer: reading stops and the connection is closed, rather than drain it forever. */
export const MAX_ANSWER_READ_BYTES = 1024 * 1024;

/** Fires when the CRM makes no progress for too long: armed while we wait on it, never while we wait on our caller. */
class StallTimer {
  readonly #ms: number;
  readonly #onStall: () => void;
  #timer: NodeJS.Timeout | undefined;
  #armed = false;
  #stopped = false;
  constructor(ms: number, onStall: () => void) {
    this.#ms = ms;
    this.#onStall = onStall;
  }
  arm(): void {
    if (this.#stopped) return;
    this.#armed = true;
    // One timer per upload, pushed back on every arm, rather than a new timer per chunk.
    if (this.#timer) this.#timer.refresh();
    else this.#timer = setTimeout(this.#fire, this.#ms);
  }
  disarm(): void {
    this.#armed = false;
  }
  /** For good: a body generator left suspended cannot re-arm it later. */
  stop(): void {
    this.#stopped = true;
    this.#armed = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
  readonly #fire = (): void => {
    if (this.#armed) this.#onStall();
  };
}

/** What the upload use case needs of a CRM client: its seam for tests. */
export interface PhotoUploader {
  uploadPhoto(request: PhotoUploadRequest): Promise<PhotoUploadReply>;
}

/** Streams record photos to the CRM over one keep-alive pool per CRM origin. Knows HTTP, not GraphQL. */
export class PhotoClient implements PhotoUploader {
  /** The keep-alive pool to the CRM origin: shared with the other CRM clients when given, else our own. */
  readonly #agent: Dispatcher;
  readonly #ownsAgent: boolean;
  readonly #options: PhotoClientOptions;
  readonly #limit: CrmBudget;

  constructor(options: PhotoClientOptions) {
    this.#options = options;
    this.#limit = options.limit ?? new ConcurrencyLimit({ max: options.maxConcurrency, maxQueue: options.maxQueue, timeoutMs: options.queueTimeoutMs });
    this.#ownsAgent = options.pool === undefined;
    this.#agent = options.pool ?? new Agent({ connect: { timeout: options.connectTimeoutMs } });
  }

  photoPath({ moduleApiName, recordId }: PhotoTarget, restrictWorkflow: boolean): string {
    const path = `/crm/${this.#options.apiVersion}/${encodeURIComponent(moduleApiName)}/${encodeURIComponent(recordId)}/photo`;
    return restrictWorkflow ? `${path}?restrict_triggers=workflow` : path;
  }

  /** Uploads in flight to the CRM, and uploads waiting for a slot, right now. */
  get load(): { inFlight: number; queued: number } {
    return { inFlight: this.#limit.active, queued: this.#limit.waiting };
  }

  async uploadPhoto(request: PhotoUploadRequest): Promise<PhotoUploadReply> {
    const observer = this.#options.observer;
    const slot = await takeCrmSlot(this.#limit, request, { queueTimeoutMs: this.#options.queueTimeoutMs, observer });
    if (!slot.ok) return { ...slot.refusal, timings: { queuedMs: slot.queuedMs, crmMs: null } };
    let reply: PhotoUploadReply | undefined;
    try {
      reply = await this.#send(request);
      if (reply.kind === 'answered') slot.answered(reply.answer);
      return { ...reply, timings: { queuedMs: slot.queuedMs, crmMs: performance.now() - slot.grantedAt } };
    } finally {
      slot.release();
      const status = reply?.kind === 'answered' ? reply.answer.status : null;
      observer?.crmCallEnded?.({ operation: 'upload-photo', status, durationMs: performance.now() - slot.grantedAt });
    }
  }

  async #send(request: PhotoUploadRequest): Promise<PhotoUploadReply> {
    const controller = new AbortController();
    let stalled = false;
    let bodyComplete = false;
    let answerStatus: number | undefined;
    let sourceError: { error: unknown } | undefined;
    const stall = new StallTimer(this.#options.responseTimeoutMs, () => {
      stalled = true;
      controller.abort(new Error('the CRM made no progress'));
    });
    let answerTimer: NodeJS.Timeout | undefined;
    const cancel = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', cancel, { once: true });

    const envelope = multipartEnvelope('file', request.file);
    const content = request.file.content;

    // One generator from the caller's chunks to undici (each layer of generators costs promises per chunk).
    async function* body(): AsyncGenerator<Uint8Array> {
      stall.arm(); // from here until undici asks for more, we wait on the CRM
      try {
        yield envelope.head;
      } finally {
        stall.disarm(); // also when undici stops asking (an early answer, a reset)
      }
      try {
        for await (const chunk of content) {
          stall.arm();
          try {
            yield chunk;
          } finally {
            stall.disarm();
          }
        }
      } catch (error) {
        sourceError = { error };
        throw error;
      }
      stall.arm(); // all sent, tail included: the CRM owes us an answer
      yield envelope.tail;
      bodyComplete = true; // undici took the tail and asked for more: every byte has gone out
    }

    try {
      const response = await this.#agent.request({
        origin: this.#options.apiDomain,
        path: this.photoPath(request.target, request.restrictWorkflow),
        method: 'POST',
        headers: {
          authorization: request.authorization,
          'content-type': envelope.contentType,
          accept: 'application/json',
        },
        // undici streams any AsyncIterable body (documented), though its types list only Readable.
        body: body() as unknown as Readable,
        signal: controller.signal,
        // Our own StallTimer measures waits on the CRM; undici's header timer would also count the client's upload time.
        headersTimeout: 0,
        bodyTimeout: this.#options.responseTimeoutMs,
      });
      stall.disarm();
      answerStatus = response.statusCode;
      // The answer, once begun, has CRM_RESPONSE_TIMEOUT_MS in all to arrive: a CRM that dribbles it out is cut off.
      answerTimer = setTimeout(() => {
        stalled = true;
        controller.abort(new Error('the CRM took too long to send its answer'));
      }, this.#options.responseTimeoutMs);
      const reply = await readAnswer(response, () => controller.abort(new Error('the CRM answer is too large')));
      // The file's own stream failed while the CRM answered (it ran past the limit, its client broke off):
      // that failure, not the CRM's view of a half-sent body, is what happened.
      if (sourceError) return { kind: 'source-failed', error: sourceError.error };
      if (reply.kind === 'answered' && !bodyComplete) return { ...reply, incompleteBody: true };
      return reply;
    } catch (error) {
      // Whatever failed, stop pulling from the caller's stream; the caller decides what to do with the rest.
      if (!controller.signal.aborted) controller.abort();
      if (request.signal?.aborted) return { kind: 'cancelled' };
      if (sourceError) return { kind: 'source-failed', error: sourceError.error };
      // A success began to come in before the whole file had gone out, and the connection broke: never a success.
      if (!stalled && !bodyComplete && answerStatus !== undefined && answerStatus >= 200 && answerStatus < 300) {
        return { kind: 'answer-unusable', unusable: { problem: 'incomplete-body', status: answerStatus } };
      }
      return { kind: 'transport-failed', ...classifyTransportError(error, stalled) };
    } finally {
      clearTimeout(answerTimer);
      stall.stop();
      request.signal?.removeEventListener('abort', cancel);
    }
  }

  /** Closes our own pool; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.#ownsAgent) await this.#agent.close();
  }

  /** Closes our own pool at once, aborting anything in flight; a shared one is destroyed by its owner. */
  async destroy(): Promise<void> {
    if (this.#ownsAgent) await this.#agent.destroy();
  }
}

/**
 * Reads the CRM's answer: the first MAX_ANSWER_BYTES are kept, the rest read off and dropped, and past
 * MAX_ANSWER_READ_BYTES reading stops (`abort` closes the connection). A body that breaks off throws: a status line
 * followed by a dropped connection is no answer to trust.
 */
async function readAnswer(response: Dispatcher.ResponseData, abort: () => void): Promise<PhotoUploadReply> {
  const header = (name: string): string | null => {
    const value = response.headers[name];
    return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
  };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    if (size < MAX_ANSWER_BYTES) chunks.push(buffer.subarray(0, MAX_ANSWER_BYTES - size));
    size += buffer.length;
    if (size > MAX_ANSWER_READ_BYTES) {
      abort();
      return { kind: 'answer-unusable', unusable: { problem: 'too-large', status: response.statusCode, limitBytes: MAX_ANSWER_READ_BYTES } };
    }
  }
  return {
    kind: 'answered',
    answer: {
      status: response.statusCode,
      contentType: header('content-type'),
      retryAfter: header('retry-after'),
      body: Buffer.concat(chunks).toString('utf8'),
    },
  };
}
