import { retryAfterSeconds as readRetryAfter } from './answers.ts';
import { QueueRefusedError } from './concurrency-limit.ts';
import type { CrmBudget } from './crm-budget.ts';
import type { CrmObserver } from './observer.ts';

/**
 * Why a call got no CRM slot: its caller went away while it waited, or the queue refused it (`crmPaused`: because
 * the CRM asked every replica for a pause with a 429, and `retryAfterSeconds` is what is left of it).
 */
export type NoSlot =
  | { kind: 'cancelled' }
  | { kind: 'queue-refused'; detail: string; retryAfterSeconds: number; crmPaused?: true };

export type SlotOutcome =
  | {
      ok: true;
      release: () => void;
      queuedMs: number;
      /** performance.now() when the slot was granted. */
      grantedAt: number;
      /** Tells the budget what the CRM answered: a 429 with Retry-After pauses every replica (shared budget). */
      answered: (answer: { status: number; retryAfter: string | null }) => void;
    }
  | { ok: false; refusal: NoSlot; queuedMs: number };

/** A call that waited longer than this for its slot asks again whether the CRM asked for a pause meanwhile. */
const RECHECK_PAUSE_AFTER_MS = 100;

/**
 * Waits for a slot of the budget every CRM call shares (uploads, reads, downloads, deletes), tells the observer how
 * long it waited, and turns a refusal into a reply the caller can give; one place for what all CRM clients do first.
 */
export async function takeCrmSlot(
  limit: CrmBudget,
  request: { signal?: AbortSignal | undefined; caller?: string | undefined },
  options: { queueTimeoutMs: number; observer?: CrmObserver | undefined },
): Promise<SlotOutcome> {
  const queueStart = performance.now();
  // Asked while the slot is asked for: both go to Redis in one round trip, not one after the other.
  const pausedEarly = limit.pausedFor?.();
  let release: () => void;
  try {
    release = await limit.acquire(request.signal, request.caller);
  } catch (error) {
    const queuedMs = performance.now() - queueStart;
    options.observer?.slotWaitEnded?.(queuedMs, false);
    if (request.signal?.aborted) return { ok: false, refusal: { kind: 'cancelled' }, queuedMs };
    if (!(error instanceof QueueRefusedError)) throw error;
    // A slot frees up as a call finishes; a few seconds is a fair guess, bounded by the queue wait.
    const retryAfterSeconds = Math.max(1, Math.ceil(Math.min(options.queueTimeoutMs, 30_000) / 1000));
    return { ok: false, refusal: { kind: 'queue-refused', detail: error.message, retryAfterSeconds }, queuedMs };
  }
  // A call that waited for its slot is asked again, so calls that queued before the pause began are held back too.
  let paused = pausedEarly ? await pausedEarly : null;
  if (paused === null && limit.pausedFor && performance.now() - queueStart > RECHECK_PAUSE_AFTER_MS) paused = await limit.pausedFor();
  if (paused !== null) {
    release();
    const queuedMs = performance.now() - queueStart;
    options.observer?.slotWaitEnded?.(queuedMs, false);
    const detail = `the CRM asked for a pause (HTTP 429), ${paused} s left`;
    return { ok: false, refusal: { kind: 'queue-refused', detail, retryAfterSeconds: paused, crmPaused: true }, queuedMs };
  }
  const grantedAt = performance.now();
  const queuedMs = grantedAt - queueStart;
  options.observer?.slotWaitEnded?.(queuedMs, true);
  const answered = (answer: { status: number; retryAfter: string | null }) => {
    if (answer.status !== 429 || !limit.pause) return;
    const seconds = readRetryAfter(answer.retryAfter);
    if (seconds !== null && seconds > 0) limit.pause(seconds);
  };
  return { ok: true, release, queuedMs, grantedAt, answered };
}
