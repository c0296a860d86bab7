import { ConcurrencyLimit } from '../crm/concurrency-limit.ts';
import { takeCrmSlot, type NoSlot } from '../crm/crm-slot.ts';

export interface ResizeLaneOptions {
  /** Resizes at once (PHOTO_RESIZE_CONCURRENCY): each takes a core and up to a few hundred MB while it runs. */
  concurrency: number;
  /** Photos that may wait for a resize, on top of those resizing (PHOTO_RESIZE_MAX_QUEUE); more are refused at once. */
  maxQueue: number;
  /** The longest a photo waits for its turn (CRM_QUEUE_TIMEOUT_MS, as for CRM slots). */
  queueTimeoutMs: number;
  /** Photos one caller may have in the lane, waiting or resizing (CRM_MAX_CONCURRENCY_PER_CALLER). */
  maxPerCaller: number;
}

export type LaneTurn = { ok: true; release: () => void; queuedMs: number } | { ok: false; refusal: NoSlot };

/**
 * The bounded lane photos that must be decoded go through, with the CRM slots' queue discipline: a bounded queue,
 * a timeout, withdrawal when the client goes away, a typed refusal, never a hang.
 *
 * Two gates. A place in the lane (`enter`) is taken before the rest of the upload is read into memory and held until
 * the CRM has the resized photo, so the photos held whole at once are at most `concurrency + maxQueue` (each at most
 * 10 MiB as sent, 10 MiB as resized); past that, refused at once.
 * A turn (`turn`) is taken once the photo is in, so a slow phone upload holds a place but never a resize slot.
 */
export class ResizeLane {
  readonly #places: ConcurrencyLimit;
  readonly #turns: ConcurrencyLimit;
  readonly #queueTimeoutMs: number;

  constructor(options: ResizeLaneOptions) {
    this.#queueTimeoutMs = options.queueTimeoutMs;
    this.#places = new ConcurrencyLimit({
      max: options.concurrency + options.maxQueue,
      maxQueue: 0,
      timeoutMs: options.queueTimeoutMs,
      maxPerCaller: options.maxPerCaller,
    });
    this.#turns = new ConcurrencyLimit({ max: options.concurrency, maxQueue: options.concurrency + options.maxQueue, timeoutMs: options.queueTimeoutMs });
  }

  /** Photos resizing and waiting for a turn, right now. */
  get load(): { resizing: number; waiting: number } {
    return { resizing: this.#turns.active, waiting: this.#turns.waiting };
  }

  /** A place in the lane, or a refusal at once when it is full (or this caller holds its share). */
  enter(request: { signal?: AbortSignal | undefined; caller?: string | undefined }): Promise<LaneTurn> {
    return this.#take(this.#places, request);
  }

  /** A resize slot: waits in order, at most the queue timeout. */
  turn(request: { signal?: AbortSignal | undefined }): Promise<LaneTurn> {
    return this.#take(this.#turns, request);
  }

  async #take(limit: ConcurrencyLimit, request: { signal?: AbortSignal | undefined; caller?: string | undefined }): Promise<LaneTurn> {
    const slot = await takeCrmSlot(limit, request, { queueTimeoutMs: this.#queueTimeoutMs });
    return slot.ok ? { ok: true, release: slot.release, queuedMs: slot.queuedMs } : { ok: false, refusal: slot.refusal };
  }
}
