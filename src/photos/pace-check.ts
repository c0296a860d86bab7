/**
 * The rate floor and the ceiling on one stream, checked on the clock rather than by timers of their own: whoever
 * moves the stream calls `waiting()` when it starts waiting on the client and `check(bytes)` when the client moves
 * again, so a client that dribbles is caught at its next move, and one that stops is left to the idle timer.
 * Uploads (the client sends) and downloads (the client reads) share it.
 */
export interface PaceLimits {
  /** The longest the client may do nothing; it is also the floor's window. 0: no limit (the window is then 30 s). */
  idleTimeoutMs?: number;
  /**
   * The least the client must move, on average, while we wait on it; 0: no floor. It may fall behind by at most
   * `idleTimeoutMs` worth of it (a pause, a radio handover) and bank no more than that ahead.
   */
  minBytesPerSecond?: number;
  /** The longest the whole stream may take from this check's creation, however the time went; 0: no ceiling. */
  maxMs?: number;
}

/** What a check found: within the limits, below the floor, or past the ceiling. */
export type PaceVerdict = 'ok' | 'below-floor' | 'past-ceiling';

export class PaceCheck {
  readonly minBytesPerSecond: number;
  readonly maxMs: number;
  readonly #bytesPerMs: number;
  /** Bytes the client may fall behind the floor by, and bank ahead of it. */
  readonly #slackBytes: number;
  /** Ahead of (positive) or behind (negative) the floor, in bytes. */
  #credit: number;
  readonly #deadline: number;
  #waitStartedAt: number | null = null;

  constructor(limits: PaceLimits = {}) {
    const idleTimeoutMs = limits.idleTimeoutMs ?? 0;
    this.minBytesPerSecond = limits.minBytesPerSecond ?? 0;
    this.#bytesPerMs = this.minBytesPerSecond / 1000;
    // The window is the idle timeout: a client may pause that long, and no longer, at the floor's expense.
    this.#slackBytes = (this.minBytesPerSecond * (idleTimeoutMs > 0 ? idleTimeoutMs : 30_000)) / 1000;
    this.#credit = this.#slackBytes;
    this.maxMs = limits.maxMs ?? 0;
    this.#deadline = this.maxMs > 0 ? performance.now() + this.maxMs : Number.POSITIVE_INFINITY;
  }

  /** Whether there is anything to check at all. */
  get active(): boolean {
    return this.#bytesPerMs > 0 || this.maxMs > 0;
  }

  /** From now until the next `check`, the time counts against the floor: we are waiting on the client. */
  waiting(): void {
    if (this.#bytesPerMs > 0 && this.#waitStartedAt === null) this.#waitStartedAt = performance.now();
  }

  /** Settles the wait under way against the floor, counts `bytes` the client moved in, and says where it stands. */
  check(bytes: number): PaceVerdict {
    if (!this.active) return 'ok';
    const now = performance.now();
    if (now > this.#deadline) return 'past-ceiling';
    if (this.#bytesPerMs === 0) return 'ok';
    if (this.#waitStartedAt !== null) {
      this.#credit -= (now - this.#waitStartedAt) * this.#bytesPerMs;
      this.#waitStartedAt = null;
    }
    this.#credit = Math.min(this.#slackBytes, this.#credit + bytes);
    return this.#credit < 0 ? 'below-floor' : 'ok';
  }
}
