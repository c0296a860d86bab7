/** No slot: the queue is full, the wait ran out, or the caller went away. The message says which. */
export class QueueRefusedError extends Error {
  override name = 'QueueRefusedError';
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (error: QueueRefusedError) => void;
  timer: NodeJS.Timeout;
}

/**
 * At most `max` holders at once; up to `maxQueue` more wait (each at most `timeoutMs`), the rest are
 * refused at once. The CRM limits concurrent calls per organisation; this keeps us under it.
 */
export class ConcurrencyLimit {
  readonly #max: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  readonly #queue: Waiter[] = [];
  #active = 0;

  constructor(options: { max: number; maxQueue: number; timeoutMs: number }) {
    this.#max = options.max;
    this.#maxQueue = options.maxQueue;
    this.#timeoutMs = options.timeoutMs;
  }

  /** Holders right now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot right now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves with a release function, called exactly once by the holder when done; `signal` withdraws a waiter. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new QueueRefusedError('the caller went away'));
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new QueueRefusedError(`${this.#active} uploads are in flight to the CRM and ${this.#queue.length} are waiting`),
      );
    }
    return new Promise((resolve, reject) => {
      const leave = (error: QueueRefusedError) => {
        this.#queue.splice(this.#queue.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = () => leave(new QueueRefusedError('the caller went away'));
      const waiter: Waiter = {
        resolve: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject,
        timer: setTimeout(
          () => leave(new QueueRefusedError(`no slot to the CRM freed up within ${this.#timeoutMs} ms`)),
          this.#timeoutMs,
        ),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next) {
        clearTimeout(next.timer);
        next.resolve(this.#releaser()); // the slot passes straight to the next waiter
      } else {
        this.#active--;
      }
    };
  }
}
