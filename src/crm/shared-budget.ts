import { Semaphore } from 'redis-semaphore';
import { ConcurrencyLimit, QueueRefusedError } from './concurrency-limit.ts';
import type { CrmBudget } from './crm-budget.ts';
import type { SharedState } from './shared-state.ts';

export interface SharedBudgetOptions {
  /** CRM_MAX_CONCURRENCY: calls in flight to the CRM across every replica. */
  max: number;
  /** CRM_MAX_QUEUE, CRM_QUEUE_TIMEOUT_MS, CRM_MAX_CONCURRENCY_PER_CALLER: this replica's own queue, as without Redis. */
  maxQueue: number;
  timeoutMs: number;
  maxPerCaller?: number;
  /** CRM_REPLICAS: while Redis is away, this replica keeps ceil(max / replicas) calls in flight. */
  replicas: number;
  /** CRM_SLOT_LEASE_MS: a slot whose holder stopped renewing it (a replica that died) is free again after this. */
  leaseMs: number;
}

/** How often a waiting call asks Redis for a slot: a slot held elsewhere is seen free at most this late. */
const POLL_MS = 20;

/**
 * One slot of the shared budget: redis-semaphore's Semaphore, whose lease is renewed while the call runs. A renewal
 * that fails because Redis is unreachable keeps the slot here (the call goes on; in Redis the lease simply runs out):
 * redis-semaphore 5.8 would otherwise let the error escape its renewal timer as an unhandled rejection, which ends
 * the process.
 */
class LeasedSlot extends Semaphore {
  protected override async _refresh(): Promise<boolean> {
    try {
      return await super._refresh();
    } catch {
      return true;
    }
  }
}

/**
 * CRM_MAX_CONCURRENCY across every replica, through Redis. A call first passes this replica's own queue (the same
 * `ConcurrencyLimit` as without Redis: its queue length, wait and per-caller share stay per replica), then takes a
 * slot of the Redis semaphore within what is left of its wait. While Redis is unreachable the slot comes from a local
 * limit of ceil(max / replicas) instead, so an upload never waits on a dead Redis for longer than a command timeout.
 */
export class SharedCrmBudget implements CrmBudget {
  readonly #state: SharedState;
  readonly #options: SharedBudgetOptions;
  readonly #admission: ConcurrencyLimit;
  readonly #fallback: ConcurrencyLimit;
  #holding = 0;
  #pausedUntil = 0;

  constructor(state: SharedState, options: SharedBudgetOptions) {
    this.#state = state;
    this.#options = options;
    this.#admission = new ConcurrencyLimit({
      max: options.max,
      maxQueue: options.maxQueue,
      timeoutMs: options.timeoutMs,
      ...(options.maxPerCaller !== undefined ? { maxPerCaller: options.maxPerCaller } : {}),
    });
    // Its queue never refuses: the admission limit already bounds how many may wait here.
    this.#fallback = new ConcurrencyLimit({ max: this.localMax, maxQueue: options.max, timeoutMs: options.timeoutMs });
  }

  /** What this replica keeps in flight while Redis is away. */
  get localMax(): number {
    return Math.ceil(this.#options.max / this.#options.replicas);
  }

  /** Whether the budget is shared right now (Redis reachable), or this replica is on its local limit. */
  get shared(): boolean {
    return this.#state.available;
  }

  get active(): number {
    return this.#holding;
  }

  get waiting(): number {
    return this.#admission.waiting + (this.#admission.active - this.#holding);
  }

  async acquire(signal?: AbortSignal, caller?: string): Promise<() => void> {
    const started = performance.now();
    const admitted = await this.#admission.acquire(signal, caller);
    try {
      const leftMs = Math.max(1, this.#options.timeoutMs - (performance.now() - started));
      const release = await this.#slot(signal, leftMs);
      this.#holding++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.#holding--;
        release();
        admitted();
      };
    } catch (error) {
      admitted();
      throw error;
    }
  }

  async pausedFor(): Promise<number | null> {
    // What this replica heard itself: all it has while Redis is away.
    let leftMs = this.#pausedUntil - Date.now();
    if (this.#state.available) {
      try {
        // PTTL, not a timestamp: the pause ends when Redis says, whatever each replica's clock reads.
        leftMs = await this.#state.client.pttl(this.#state.keys.pausedUntil);
      } catch (error) {
        this.#state.commandFailed(error);
      }
    }
    return leftMs > 0 ? Math.ceil(leftMs / 1000) : null;
  }

  pause(seconds: number): void {
    if (seconds <= 0) return;
    const ms = Math.min(seconds, 86_400) * 1000;
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms);
    if (!this.#state.available) return;
    // Only ever lengthened: a shorter Retry-After read later does not cut a longer pause short (PEXPIRE GT: Redis 7).
    const key = this.#state.keys.pausedUntil;
    this.#state.client
      .multi()
      .set(key, '1', 'PX', ms, 'NX')
      .pexpire(key, ms, 'GT')
      .exec()
      .catch((error: unknown) => this.#state.commandFailed(error));
  }

  /** A slot of the Redis semaphore, or of the local fallback while Redis is away or fails on the way. */
  async #slot(signal: AbortSignal | undefined, leftMs: number): Promise<() => void> {
    const deadline = performance.now() + leftMs;
    if (this.#state.available) {
      const semaphore = new LeasedSlot(this.#state.client, this.#state.keys.slots, this.#options.max, {
        lockTimeout: this.#options.leaseMs,
        acquireTimeout: leftMs,
        retryInterval: POLL_MS,
        refreshInterval: Math.max(100, Math.floor(this.#options.leaseMs / 3)),
        // A lease lost while the call runs (Redis was away for longer than a lease): the call goes on.
        onLockLost: () => {},
      });
      let acquired: boolean;
      try {
        acquired = await semaphore.tryAcquire(signal);
      } catch (error) {
        if (signal?.aborted) throw new QueueRefusedError('the caller went away');
        // Redis went away while we waited: what is left of the wait goes to the local limit.
        this.#state.commandFailed(error);
        return this.#local(signal, deadline);
      }
      if (!acquired) throw new QueueRefusedError(`no slot to the CRM freed up across the replicas within ${this.#options.timeoutMs} ms`);
      return () => {
        // Redis away: the slot's lease runs out on its own.
        semaphore.release().catch((error: unknown) => this.#state.commandFailed(error));
      };
    }
    return this.#local(signal, deadline);
  }

  #local(signal: AbortSignal | undefined, deadline: number): Promise<() => void> {
    return this.#fallback.acquire(signal, undefined, Math.max(1, deadline - performance.now()));
  }
}
