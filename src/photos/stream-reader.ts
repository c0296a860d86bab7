import type { Readable } from 'node:stream';

/** The client sent nothing for too long. */
export class UploadIdleError extends Error {
  override name = 'UploadIdleError';
  readonly status = 408;
}

/**
 * Pulls chunks from a Node stream one at a time, and lets go of it cleanly: after `release()`
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
    waiter?.reject(new UploadIdleError(`the client sent nothing for ${this.#idleTimeoutMs} ms`));
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
    this.#failure ??= { error };
    this.#notify();
  };

  readonly #onClose = (): void => {
    if (!this.#ended) this.#failure ??= { error: new Error('the upload stream closed before its end') };
    this.#notify();
  };
}
