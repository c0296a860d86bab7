import { QueueRefusedError, type ConcurrencyLimit } from './concurrency-limit.ts';
import type { CrmObserver } from './observer.ts';

/** Why a call got no CRM slot: its caller went away while it waited, or the queue refused it. */
export type NoSlot = { kind: 'cancelled' } | { kind: 'queue-refused'; detail: string; retryAfterSeconds: number };

export type SlotOutcome =
  | { ok: true; release: () => void; queuedMs: number; /** performance.now() when the slot was granted. */ grantedAt: number }
  | { ok: false; refusal: NoSlot; queuedMs: number };

/**
 * Waits for a slot of the limit every CRM call shares (uploads, reads, downloads, deletes), tells the observer how
 * long it waited, and turns a refusal into a reply the caller can give; one place for what all CRM clients do first.
 */
export async function takeCrmSlot(
  limit: ConcurrencyLimit,
  request: { signal?: AbortSignal | undefined; caller?: string | undefined },
  options: { queueTimeoutMs: number; observer?: CrmObserver | undefined },
): Promise<SlotOutcome> {
  const queueStart = performance.now();
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
  const grantedAt = performance.now();
  const queuedMs = grantedAt - queueStart;
  options.observer?.slotWaitEnded?.(queuedMs, true);
  return { ok: true, release, queuedMs, grantedAt };
}
