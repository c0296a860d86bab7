/** One API request's lifecycle: live body accounting, a single answer, abort detection and cleanup. */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { answerBody, CRM_JSON_CONTENT_TYPE, type CrmAnswer } from './answers.ts';
import type { RequestLogEntry } from './state.ts';

export interface AnswerOptions {
  headers?: OutgoingHttpHeaders;
  /** Destroy the socket as soon as the answer has been handed to the OS. */
  closeAfter?: boolean;
}

export class Exchange {
  readonly entry: RequestLogEntry;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Resolves true once the whole body has arrived, false if the connection closed first. */
  readonly bodyEnded: Promise<boolean>;
  #consuming = false;
  #isClosed = false;
  #answering = false;
  #delayMs = 0;
  #throttle: { chunkBytes: number; intervalMs: number } | undefined;
  #cleanups: (() => void)[] = [];
  #byteListeners: ((total: number) => void)[] = [];

  constructor(entry: RequestLogEntry, req: IncomingMessage, res: ServerResponse) {
    this.entry = entry;
    this.req = req;
    this.res = res;
    // A client reset surfaces as stream errors; the 'close' handler below is where it is accounted for.
    req.on('error', () => {});
    res.on('error', () => {});
    this.bodyEnded = new Promise((resolve) => {
      req.once('end', () => resolve(true));
      res.once('close', () => resolve(false));
    });
    res.once('close', () => this.#closed());
  }

  /** Delays the answer (whatever it turns out to be) by `ms`. */
  delay(ms: number): void {
    this.#delayMs = ms;
  }

  /** Sends the answer's body (whatever it turns out to be) `chunkBytes` every `intervalMs`. */
  throttle(chunkBytes: number, intervalMs: number): void {
    this.#throttle = { chunkBytes, intervalMs };
  }

  /** Runs `fn` when the exchange ends, however it ends. */
  onCleanup(fn: () => void): void {
    if (this.#isClosed) fn();
    else this.#cleanups.push(fn);
  }

  /** Calls `fn` with the running body byte count after each chunk. */
  onBytes(fn: (total: number) => void): void {
    this.#byteListeners.push(fn);
  }

  /** Starts reading the body, into `sink` or discarded; bytes are counted in the log as they arrive. */
  consume(sink?: Writable): void {
    if (this.#consuming) return;
    this.#consuming = true;
    this.req.on('data', (chunk: Buffer) => {
      if (this.entry.firstByteAt === null) this.entry.firstByteAt = Date.now();
      this.entry.bytesReceived += chunk.length;
      for (const listener of this.#byteListeners) listener(this.entry.bytesReceived);
    });
    if (sink !== undefined) this.req.pipe(sink);
    else this.req.resume();
  }

  /** Keeps the body flowing (e.g. after a parser gave up on it). */
  discardRest(): void {
    this.req.unpipe();
    this.req.resume();
  }

  /** Reads the whole body, then runs `then` (not at all if the client went away first). */
  drainThen(then: () => void): void {
    this.consume();
    void this.bodyEnded.then((ended) => {
      if (ended) this.guard(then);
    });
  }

  /** Runs a step of handling; an unexpected throw becomes a 500 instead of a crash. */
  guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.answerCrm({
        httpStatus: 500,
        code: 'INTERNAL_ERROR',
        message: `Internal Server Error: ${error instanceof Error ? error.message : String(error)}`,
        status: 'error',
      });
    }
  }

  answerCrm(answer: CrmAnswer, options: AnswerOptions = {}): void {
    this.answer(answer.httpStatus, answerBody(answer), answer.code, {
      ...options,
      headers: { 'content-type': CRM_JSON_CONTENT_TYPE, ...options.headers },
    });
  }

  /** Sends the one answer this exchange gets (later calls are ignored), after any configured delay. */
  answer(status: number, body: string | Buffer, code: string | null, options: AnswerOptions = {}): void {
    if (this.#answering) return;
    this.#answering = true;
    const write = (): void => {
      const { res } = this;
      if (res.destroyed || res.headersSent) return;
      this.entry.state = 'answered';
      this.entry.status = status;
      this.entry.code = code;
      this.entry.endedAt = Date.now();
      const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      // A 204 carries neither a body nor a Content-Length.
      const length = status === 204 ? {} : { 'content-length': payload.length };
      res.writeHead(status, { ...options.headers, ...length });
      if (this.#throttle !== undefined && payload.length > 0) return this.#writePaced(payload, this.#throttle);
      res.end(payload, () => {
        if (options.closeAfter === true) this.req.socket.destroy();
      });
    };
    if (this.#delayMs <= 0) return write();
    const timer = setTimeout(write, this.#delayMs);
    this.onCleanup(() => clearTimeout(timer));
  }

  /**
   * Sends the one answer this exchange gets as a stream, after any configured delay: the status line and headers
   * (chunked, no Content-Length), then whatever `produce` writes to the response. `produce` is not called if the
   * client has gone; cleanups registered with onCleanup run when the connection closes.
   */
  answerStreaming(status: number, code: string | null, headers: OutgoingHttpHeaders, produce: (res: ServerResponse) => void): void {
    if (this.#answering) return;
    this.#answering = true;
    const start = (): void => {
      const { res } = this;
      if (res.destroyed || res.headersSent) return;
      this.entry.state = 'answered';
      this.entry.status = status;
      this.entry.code = code;
      this.entry.endedAt = Date.now();
      res.writeHead(status, headers);
      res.flushHeaders();
      produce(res);
    };
    if (this.#delayMs <= 0) return start();
    const timer = setTimeout(start, this.#delayMs);
    this.onCleanup(() => clearTimeout(timer));
  }

  /** Writes the body a chunk at a time; a connection that closes before the last one leaves the request 'aborted'. */
  #writePaced(payload: Buffer, { chunkBytes, intervalMs }: { chunkBytes: number; intervalMs: number }): void {
    const { res, entry } = this;
    let sent = 0;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    res.once('finish', () => {
      finished = true;
      entry.endedAt = Date.now();
    });
    const next = (): void => {
      if (res.destroyed) return;
      const chunk = payload.subarray(sent, sent + chunkBytes);
      sent += chunk.length;
      if (sent >= payload.length) return void res.end(chunk);
      res.write(chunk);
      timer = setTimeout(next, intervalMs);
    };
    this.onCleanup(() => {
      clearTimeout(timer);
      if (finished) return;
      entry.state = 'aborted';
      entry.endedAt = Date.now();
    });
    next();
  }

  /** Drops the connection without an answer (RST), as a crashed upstream would. */
  reset(): void {
    if (this.entry.state === 'receiving') {
      this.entry.state = 'aborted';
      this.entry.endedAt = Date.now();
    }
    const { socket } = this.req;
    if (!socket.destroyed) socket.resetAndDestroy();
  }

  #closed(): void {
    this.#isClosed = true;
    if (this.entry.state === 'receiving') {
      this.entry.state = 'aborted';
      this.entry.endedAt = Date.now();
    }
    const cleanups = this.#cleanups;
    this.#cleanups = [];
    for (const cleanup of cleanups) cleanup();
  }
}
