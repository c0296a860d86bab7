/**
 * The CRM's limit on concurrent calls per organisation, as every CRM client sees it: one replica's own
 * `ConcurrencyLimit`, or (REDIS_URL) a budget shared by all replicas (`SharedCrmBudget`).
 */
export interface CrmBudget {
  /**
   * Resolves with a release function, called exactly once by the holder when done; rejects with a QueueRefusedError
   * when the queue is full, the wait ran out, or `signal` fired. `caller` names who is asking, for its share.
   */
  acquire(signal?: AbortSignal, caller?: string): Promise<() => void>;
  /** This replica's calls holding a slot right now. */
  readonly active: number;
  /** This replica's calls waiting for a slot right now. */
  readonly waiting: number;
  /** Seconds left of a pause the CRM asked every replica for (429 with Retry-After); null: none. Absent: never paused. */
  pausedFor?(): Promise<number | null>;
  /** The CRM answered 429 with Retry-After: no replica sends it more work for `seconds`. */
  pause?(seconds: number): void;
}
