import type { Readable } from 'node:stream';

/** How a client's upload stream failed: it went quiet, its multipart body broke off or was refused, or the client left. */
export type UploadStreamFailure = 'idle' | 'broken' | 'client-gone';

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

/**
 * Pulls chunks from a Node stream one at a time; every way the stream fails comes out as an UploadStreamError, and lets go of it cleanly: after `release()`
 * the stream has none of our listeners, so whoever drains it next is not blocked by us.
 */
export class StreamReader {
  readonly #stream: Readable;
  readonly #idleTimeoutMs: number;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #released = false;
  #waiter: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(stream: Readable, options: { idleTimeoutMs?: number } = {}) {
    this.#stream = stream;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 0;
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
      if (chunk !== null) return chunk;
      if (this.#ended) return null;
      await this.#waitForData();
    }
  }

  #waitForData(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiter = { resolve, reject };
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
