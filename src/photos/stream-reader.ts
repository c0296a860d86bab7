import type { Readable } from 'node:stream';
import { PaceCheck } from './pace-check.ts';

/**
 * How a client's upload stream failed: it went quiet, it moved too slowly (below the rate floor, or past the
 * ceiling on one upload), its multipart body broke off or was refused, or the client left.
 */
export type UploadStreamFailure = 'idle' | 'too-slow' | 'broken' | 'client-gone';

/** The client's upload stream failed: a problem with the request, never with the CRM or the gateway. */
export class UploadStreamError extends Error {
  override name = 'UploadStreamError';
  readonly failure: UploadStreamFailure;
  constructor(failure: UploadStreamFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.failure = failure;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface StreamReaderOptions {
  /** The longest the client may send nothing while we wait on it; 0: no limit. */
  idleTimeoutMs?: number;
  /**
   * The least the client must send, on average, while we wait on it; 0: no floor. It may fall behind by at most
   * `idleTimeoutMs` worth of it (a pause, a radio handover) and bank no more than that ahead.
   */
  minBytesPerSecond?: number;
  /** The longest the whole stream may take from this reader's creation to its end, however the time went; 0: no ceiling. */
  maxMs?: number;
}

/**
 * Pulls chunks from a Node stream one at a time; every way the stream fails comes out as an UploadStreamError, and lets go of it cleanly: after `release()`
 * the stream has none of our listeners, so whoever drains it next is not blocked by us.
 *
 * Time limits. One timer (restarted on every wait) fires when the client sends nothing for `idleTimeoutMs`. The rate
 * floor and the ceiling need no timer of their own: they are checked on the clock each time a chunk arrives or a wait
 * begins, so a client that dribbles is caught at its next byte, and one that stops is caught by the idle timer.
 * Only time spent waiting on the client counts against the floor: while we wait on the CRM (a queue, a slow read),
 * the client cannot send and is not to blame.
 */
export class StreamReader {
  readonly #stream: Readable;
  readonly #idleTimeoutMs: number;
  readonly #pace: PaceCheck;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #released = false;
  #waiter: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(stream: Readable, options: StreamReaderOptions = {}) {
    this.#stream = stream;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
    this.#pace = new PaceCheck(options);
    stream.on('readable', this.#notify);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
  }

  /** The next chunk, or null at the end of the stream (or once released). */
  async read(): Promise<Buffer | null> {
    for (;;) {
      if (this.#failure) throw this.#failure.error;
      if (this.#released) return null;
      const chunk = this.#stream.read() as Buffer | null;
      if (chunk !== null) {
        this.#checkPace(chunk.length);
        return chunk;
      }
      if (this.#ended) return null;
      this.#checkPace(0);
      await this.#waitForData();
    }
  }

  /** Settles the last wait against the floor, counts `bytes` in, and fails the stream below the floor or past the ceiling. */
  #checkPace(bytes: number): void {
    const verdict = this.#pace.check(bytes);
    if (verdict === 'past-ceiling') {
      this.#fail(`the upload took longer than the ${this.#pace.maxMs / 1000} s one upload may take`);
    }
    if (verdict === 'below-floor') {
      this.#fail(`the client sent less than ${this.#pace.minBytesPerSecond} bytes a second, the least an upload must keep up`);
    }
  }

  #fail(reason: string): never {
    const error = new UploadStreamError('too-slow', `The upload stream failed: ${reason}`);
    this.#failure = { error };
    throw error;
  }

  #waitForData(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#pace.waiting();
      if (this.#idleTimeoutMs <= 0) return;
      // One timer per reader, restarted on every wait, rather than a new timer per chunk.
      if (this.#idleTimer) this.#idleTimer.refresh();
      else this.#idleTimer = setTimeout(this.#onIdle, this.#idleTimeoutMs);
    });
  }

  readonly #onIdle = (): void => {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new UploadStreamError('idle', `The upload stream failed: the client sent nothing for ${this.#idleTimeoutMs} ms`));
  };

  release(): void {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#stream.off('readable', this.#notify);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onClose);
    // Keep swallowing errors: a released stream may still fail while it is drained.
    this.#notify();
  }

  readonly #notify = (): void => {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };

  readonly #onError = (error: unknown): void => {
    this.#failure ??= { error: new UploadStreamError('broken', `The upload stream failed: ${describe(error)}`, { cause: error }) };
    this.#notify();
  };

  readonly #onClose = (): void => {
    if (!this.#ended) this.#failure ??= { error: new UploadStreamError('broken', 'The upload stream failed: the upload stream closed before its end') };
    this.#notify();
  };
}
