import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
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
  /** CRM_REPLICAS: while Redis is away, this replica keeps floor(max / replicas) calls in flight (at least 1). */
  replicas: number;
  /** CRM_SLOT_LEASE_MS: a slot whose holder stopped renewing it (a replica that died) is free again after this. */
  leaseMs: number;
  /**
   * Whether a 429's pause is shared by every replica (service mode: one organisation, one token). Pass-through mode
   * leaves it out: each caller brings its own organisation's token, and one organisation's 429 must not hold back
   * the others, so there a 429 pauses nothing, as without Redis.
   */
  sharePause?: boolean;
}

/** How often a waiting call asks Redis for a slot: a slot held elsewhere is seen free at most this late. */
const POLL_MS = 20;

/** The longest pause one replica's 429 imposes on the others (Retry-After may say up to a day). */
export const MAX_SHARED_PAUSE_S = 300;

/** The pause this replica heard itself is kept to at most a day, as before. */
const MAX_LOCAL_PAUSE_S = 86_400;

/**
 * Puts a holder back into the semaphore's sorted set whatever the count: a call that runs is counted, even when its
 * lease was lost (Redis away longer than a lease), Redis restarted empty, or it took a local slot while Redis was away.
 */
const READD_SLOT = `redis.call('zadd', KEYS[1], ARGV[1], ARGV[2]) redis.call('pexpire', KEYS[1], ARGV[3]) return 1`;

type SlotClient = Redis & { readdSlot(key: string, now: number, identifier: string, leaseMs: number): Promise<number> };

/**
 * One slot of the shared budget: redis-semaphore's Semaphore, whose lease is renewed while the call runs. A renewal
 * that fails because Redis is unreachable keeps the slot here (redis-semaphore 5.8 would otherwise let the error escape
 * its renewal timer as an unhandled rejection, which ends the process); a renewal that finds the entry gone puts it
 * back, so a call never runs unseen by the other replicas.
 */
class LeasedSlot extends Semaphore {
  readonly #slots: SlotClient;
  #released = false;

  constructor(client: SlotClient, key: string, limit: number, options: ConstructorParameters<typeof Semaphore>[3]) {
    super(client, key, limit, options);
    this.#slots = client;
  }

  /** Writes this holder's entry again, renewed from now (a no-op once released). */
  async reassert(): Promise<void> {
    if (this.#released) return;
    await this.#slots.readdSlot(this._key, Date.now(), this.identifier, this._acquireOptions.lockTimeout);
  }

  protected override async _refresh(): Promise<boolean> {
    if (this.#released) return false;
    try {
      if (await super._refresh()) return true;
      await this.reassert();
    } catch {
      // Redis away: the call goes on; its entry is written again once Redis is back (SharedCrmBudget).
    }
    return true;
  }

  override async release(): Promise<void> {
    this.#released = true;
    await super.release();
  }
}

/** A call holding a slot on this replica: of the Redis semaphore, or of the local limit (counted in Redis once it is back). */
interface Holder {
  kind: 'shared' | 'local';
  slot: LeasedSlot | null;
}

interface LocalWaiter {
  resolve: (granted: boolean) => void;
  reject: (error: QueueRefusedError) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * CRM_MAX_CONCURRENCY across every replica, through Redis. A call first passes this replica's own queue (the same
 * `ConcurrencyLimit` as without Redis: its queue length, wait and per-caller share stay per replica), then takes a
 * slot of the Redis semaphore within what is left of its wait.
 *
 * While Redis is unreachable the slot comes from a local limit of floor(max / replicas) instead, so an upload never
 * waits on a dead Redis for longer than a command timeout. That local limit counts the shared slots this replica
 * still holds (calls that began before Redis went away run on), and once Redis is back every call still running here
 * (on a shared slot whose entry may be gone, or on a local one) is written into the semaphore again before any new
 * call asks it: Redis counts them, so a failover or a Redis that restarts empty does not let the replicas exceed the
 * cap by what ran unseen.
 */
export class SharedCrmBudget implements CrmBudget {
  readonly #state: SharedState;
  readonly #client: SlotClient;
  readonly #options: SharedBudgetOptions;
  readonly #admission: ConcurrencyLimit;
  readonly #holders = new Set<Holder>();
  readonly #localWaiters: LocalWaiter[] = [];
  /** Releases (ZREM) still on their way to Redis: a closing gateway waits for them. */
  readonly #pending = new Set<Promise<void>>();
  /** Entries this replica may have left in Redis (a release or an acquire whose answer was lost): removed once Redis is back. */
  readonly #orphans = new Set<string>();
  /** Told once no call holds a slot here (see settled). */
  #idle: Array<() => void> = [];
  #shared = 0;
  #local = 0;
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
    const client = state.client as SlotClient;
    if (typeof client.readdSlot !== 'function') client.defineCommand('readdSlot', { numberOfKeys: 1, lua: READD_SLOT });
    this.#client = client;
    state.onChange((available) => {
      if (available) this.#recovered();
      this.#pump();
    });
  }

  /** What this replica keeps in flight while Redis is away: its share, so that the replicas together stay within max. */
  get localMax(): number {
    return Math.max(1, Math.floor(this.#options.max / this.#options.replicas));
  }

  /** Whether the budget is shared right now (Redis reachable), or this replica is on its local limit. */
  get shared(): boolean {
    return this.#state.available;
  }

  get active(): number {
    return this.#shared + this.#local;
  }

  get waiting(): number {
    return this.#admission.waiting + (this.#admission.active - this.active);
  }

  /**
   * For a gateway that stops: resolves once no call holds a slot here (calls just aborted release theirs a moment
   * later) or `timeoutMs` has passed, and every release made has reached Redis or failed (each bounded by the command
   * timeout). Closing the connection before would leave this replica's slots taken in Redis for a whole lease.
   */
  async settled(timeoutMs: number): Promise<void> {
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await Promise.allSettled([...this.#pending]);
  }

  async acquire(signal?: AbortSignal, caller?: string): Promise<() => void> {
    const started = performance.now();
    const admitted = await this.#admission.acquire(signal, caller);
    try {
      const holder = await this.#slot(signal, started + this.#options.timeoutMs);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.#holders.delete(holder);
        if (holder.kind === 'shared') this.#shared--;
        else this.#local--;
        if (holder.slot) this.#release(holder.slot);
        this.#pump();
        admitted();
        if (this.active === 0) for (const idle of this.#idle.splice(0)) idle();
      };
    } catch (error) {
      admitted();
      throw error;
    }
  }

  async pausedFor(): Promise<number | null> {
    if (!this.#options.sharePause) return null;
    // What this replica heard itself: all it has while Redis is away, and never cut short by what Redis says.
    let leftMs = this.#pausedUntil - Date.now();
    if (this.#state.available) {
      try {
        // PTTL, not a timestamp: the pause ends when Redis says, whatever each replica's clock reads.
        leftMs = Math.max(leftMs, await this.#state.client.pttl(this.#state.keys.pausedUntil));
      } catch (error) {
        this.#state.commandFailed(error);
      }
    }
    return leftMs > 0 ? Math.ceil(leftMs / 1000) : null;
  }

  pause(seconds: number): void {
    if (seconds <= 0 || !this.#options.sharePause) return;
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + Math.min(seconds, MAX_LOCAL_PAUSE_S) * 1000);
    if (!this.#state.available) return;
    const ms = Math.min(seconds, MAX_SHARED_PAUSE_S) * 1000;
    // Only ever lengthened: a shorter Retry-After read later does not cut a longer pause short (PEXPIRE GT: Redis 7).
    const key = this.#state.keys.pausedUntil;
    this.#state.client
      .multi()
      .set(key, '1', 'PX', ms, 'NX')
      .pexpire(key, ms, 'GT')
      .exec()
      .catch((error: unknown) => this.#state.commandFailed(error));
  }

  /** A slot of the Redis semaphore, or of the local limit while Redis is away or fails on the way; by `deadline`. */
  async #slot(signal: AbortSignal | undefined, deadline: number): Promise<Holder> {
    let tryShared = this.#state.available;
    for (;;) {
      if (signal?.aborted) throw new QueueRefusedError('the caller went away');
      const leftMs = Math.max(1, deadline - performance.now());
      if (tryShared) {
        const slot = await this.#sharedSlot(signal, leftMs);
        if (slot) return this.#hold('shared', slot);
        // Redis went away while we waited: what is left of the wait goes to the local limit.
      }
      if (await this.#localSlot(signal, Math.max(1, deadline - performance.now()))) return this.#hold('local', null);
      // Redis is back: what is left of the wait goes to the shared semaphore.
      tryShared = true;
    }
  }

  #hold(kind: Holder['kind'], slot: LeasedSlot | null): Holder {
    const holder: Holder = { kind, slot };
    this.#holders.add(holder);
    if (kind === 'shared') this.#shared++;
    // A local slot granted while Redis is reachable (a waiter that queued before it came back) is counted there at once.
    else if (this.#state.available) this.#register(holder);
    return holder;
  }

  /** A slot of the Redis semaphore; null when Redis failed meanwhile. */
  async #sharedSlot(signal: AbortSignal | undefined, leftMs: number): Promise<LeasedSlot | null> {
    const slot = this.#leased({ acquireTimeout: leftMs });
    let acquired: boolean;
    try {
      acquired = await slot.tryAcquire(signal);
    } catch (error) {
      if (signal?.aborted) throw new QueueRefusedError('the caller went away');
      this.#state.commandFailed(error);
      // The acquire may have run in Redis with its answer lost (a command timeout): that entry would hold a slot
      // for a whole lease. It is removed now, or once Redis is back.
      this.#forget(slot.identifier);
      return null;
    }
    if (!acquired) throw new QueueRefusedError(`no slot to the CRM freed up across the replicas within ${this.#options.timeoutMs} ms`);
    return slot;
  }

  /**
   * A slot of the local limit: floor(max / replicas) less what this replica holds already, shared slots included.
   * Resolves true with the slot taken, or false when Redis came back meanwhile (the caller asks the semaphore).
   */
  #localSlot(signal: AbortSignal | undefined, timeoutMs: number): Promise<boolean> {
    if (this.#localWaiters.length === 0 && this.#localFree() > 0) {
      this.#local++;
      return Promise.resolve(true);
    }
    return new Promise((resolve, reject) => {
      const leave = (error: QueueRefusedError) => {
        this.#localWaiters.splice(this.#localWaiters.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', waiter.onAbort);
        reject(error);
      };
      const waiter: LocalWaiter = {
        resolve,
        reject,
        signal,
        onAbort: () => leave(new QueueRefusedError('the caller went away')),
        timer: setTimeout(() => leave(new QueueRefusedError(`no slot to the CRM freed up within ${this.#options.timeoutMs} ms`)), timeoutMs),
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#localWaiters.push(waiter);
    });
  }

  #localFree(): number {
    return this.localMax - this.#shared - this.#local;
  }

  /** Hands freed local capacity to local waiters, or (Redis back) sends them all to the semaphore. */
  #pump(): void {
    while (this.#localWaiters.length > 0 && (this.#state.available || this.#localFree() > 0)) {
      const waiter = this.#localWaiters.shift()!;
      clearTimeout(waiter.timer);
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      if (this.#state.available) {
        waiter.resolve(false);
      } else {
        this.#local++;
        waiter.resolve(true);
      }
    }
  }

  /**
   * Redis is back (perhaps restarted empty): every call running here is written into the semaphore before any new
   * call can ask it (same connection, sent first), and the entries left behind are removed.
   */
  #recovered(): void {
    for (const holder of this.#holders) {
      if (holder.slot) holder.slot.reassert().catch((error: unknown) => this.#state.commandFailed(error));
      else this.#register(holder);
    }
    for (const identifier of [...this.#orphans]) this.#forget(identifier);
  }

  /** Counts a call on a local slot in the semaphore, renewed until it ends. */
  #register(holder: Holder): void {
    const slot = this.#leased({ identifier: randomUUID(), acquiredExternally: true });
    holder.slot = slot;
    slot.reassert().catch((error: unknown) => this.#state.commandFailed(error));
    // Starts the renewal (its first renewal finds the entry just written).
    slot.tryAcquire().catch((error: unknown) => this.#state.commandFailed(error));
  }

  #release(slot: LeasedSlot): void {
    const identifier = slot.identifier;
    const done: Promise<void> = slot
      .release()
      .catch((error: unknown) => {
        this.#state.commandFailed(error);
        this.#orphans.add(identifier);
      })
      .finally(() => this.#pending.delete(done));
    this.#pending.add(done);
  }

  /** Removes an entry this replica left in Redis; kept for when Redis is back if it cannot be now. */
  #forget(identifier: string): void {
    this.#orphans.add(identifier);
    if (!this.#state.available) return;
    const done: Promise<void> = this.#client
      .zrem(`semaphore:${this.#state.keys.slots}`, identifier)
      .then(
        () => void this.#orphans.delete(identifier),
        () => {},
      )
      .finally(() => this.#pending.delete(done));
    this.#pending.add(done);
  }

  #leased(options: { acquireTimeout?: number; identifier?: string; acquiredExternally?: true }): LeasedSlot {
    return new LeasedSlot(this.#client, this.#state.keys.slots, this.#options.max, {
      lockTimeout: this.#options.leaseMs,
      retryInterval: POLL_MS,
      refreshInterval: Math.max(100, Math.floor(this.#options.leaseMs / 3)),
      // Never called while the call runs: a renewal that finds the entry gone writes it again (LeasedSlot).
      onLockLost: () => {},
      ...options,
    });
  }
}
