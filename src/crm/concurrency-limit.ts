import type { CrmBudget } from './crm-budget.ts';

/** No slot: the queue is full, the wait ran out, or the caller went away. The message says which. */
export class QueueRefusedError extends Error {
  override name = 'QueueRefusedError';
}

interface Waiter {
  /** Counts the waiter's call out of its caller's share, once it is done (released, or gone from the queue). */
  done: (() => void) | undefined;
  resolve: (release: () => void) => void;
  reject: (error: QueueRefusedError) => void;
  timer: NodeJS.Timeout;
}

/**
 * At most `max` holders at once; up to `maxQueue` more wait (each at most `timeoutMs`), the rest are
 * refused at once. The CRM limits concurrent calls per organisation; this keeps us under it.
 *
 * With `maxPerCaller`, one caller (an opaque key the acquirer names) may have at most that many calls holding
 * or waiting for a slot; one more is refused at once, whatever is free, so no caller can take every slot or fill
 * the queue. Refused rather than queued: a queued surplus would still hold queue places, which is what lets a
 * hostile caller starve the others. Calls that name no caller are not counted.
 */
export class ConcurrencyLimit implements CrmBudget {
  readonly #max: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  readonly #maxPerCaller: number;
  readonly #queue: Waiter[] = [];
  /** Calls holding or waiting, per caller; an entry goes when its count is back to 0. */
  readonly #perCaller = new Map<string, number>();
  #active = 0;

  constructor(options: { max: number; maxQueue: number; timeoutMs: number; maxPerCaller?: number }) {
    this.#max = options.max;
    this.#maxQueue = options.maxQueue;
    this.#timeoutMs = options.timeoutMs;
    this.#maxPerCaller = options.maxPerCaller ?? Number.POSITIVE_INFINITY;
  }

  /** Holders right now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot right now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Resolves with a release function, called exactly once by the holder when done; `signal` withdraws a waiter.
   * `caller` names who is asking (never a secret: a hash of one), for the per-caller share. `timeoutMs` shortens the
   * wait for this one call (what is left of a wait that began elsewhere).
   */
  acquire(signal?: AbortSignal, caller?: string, timeoutMs = this.#timeoutMs): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new QueueRefusedError('the caller went away'));
    const counted = caller !== undefined && this.#maxPerCaller < Number.POSITIVE_INFINITY;
    if (counted) {
      const mine = this.#perCaller.get(caller) ?? 0;
      if (mine >= this.#maxPerCaller) {
        return Promise.reject(
          new QueueRefusedError(`this caller already has ${mine} calls to the CRM in flight or waiting, the most one caller may have`),
        );
      }
    }
    const done = counted ? this.#countIn(caller) : undefined;
    if (this.#active < this.#max) {
      this.#active++;
      return Promise.resolve(this.#releaser(done));
    }
    if (this.#queue.length >= this.#maxQueue) {
      done?.();
      return Promise.reject(
        new QueueRefusedError(`${this.#active} calls are in flight to the CRM and ${this.#queue.length} are waiting`),
      );
    }
    return new Promise((resolve, reject) => {
      const leave = (error: QueueRefusedError) => {
        this.#queue.splice(this.#queue.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
        done?.();
        reject(error);
      };
      const onAbort = () => leave(new QueueRefusedError('the caller went away'));
      const waiter: Waiter = {
        done,
        resolve: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject,
        timer: setTimeout(
          () => leave(new QueueRefusedError(`no slot to the CRM freed up within ${this.#timeoutMs} ms`)),
          timeoutMs,
        ),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Counts one more call for `caller`; the returned function counts it out again, once. */
  #countIn(caller: string): () => void {
    this.#perCaller.set(caller, (this.#perCaller.get(caller) ?? 0) + 1);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const left = (this.#perCaller.get(caller) ?? 1) - 1;
      if (left === 0) this.#perCaller.delete(caller);
      else this.#perCaller.set(caller, left);
    };
  }

  #releaser(done?: () => void): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      done?.();
      const next = this.#queue.shift();
      if (next) {
        clearTimeout(next.timer);
        next.resolve(this.#releaser(next.done)); // the slot passes straight to the next waiter
      } else {
        this.#active--;
      }
    };
  }
}
