import { Readable } from 'node:stream';
import { PaceCheck, type PaceLimits } from './pace-check.ts';

/** The client took none of the photo for the idle timeout: its download is cut off and the CRM call ended. */
export class DownloadStalledError extends Error {
  override name = 'DownloadStalledError';
}

/** The client read below the rate floor, or past the ceiling on one download: cut off, as a stalled one is. */
export class DownloadTooSlowError extends DownloadStalledError {
  override name = 'DownloadTooSlowError';
}

/** The CRM's answer broke off before its end: whatever was sent of the photo is all there is. */
export class PhotoSourceError extends Error {
  override name = 'PhotoSourceError';
}

/** Lets go of a source for good: destroyed, its late errors (an undici body reports its own abort) swallowed. */
export function discardSource(source: Readable): void {
  source.on('error', () => {});
  if (!source.destroyed) source.destroy();
}

/** What the head of a download holds: the bytes read so far, and whether that was all of it. */
export interface SourceHead {
  bytes: Buffer;
  ended: boolean;
}

/**
 * Reads the source until `enough(bytes, ended)` says so, the source ends, or `maxBytes` is reached; rejects when the
 * source fails or closes first. What it read stays in the result: nothing is lost for the forward that follows.
 */
export async function readSourceHead(
  source: Readable,
  maxBytes: number,
  enough: (bytes: Buffer, ended: boolean) => boolean,
): Promise<SourceHead> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    for (let chunk = source.read() as Buffer | null; chunk !== null; chunk = source.read() as Buffer | null) {
      chunks.push(chunk);
      size += chunk.length;
      const bytes = Buffer.concat(chunks, size);
      chunks.splice(0, chunks.length, bytes);
      if (size >= maxBytes || enough(bytes, false)) return { bytes, ended: false };
    }
    if (source.readableEnded) return { bytes: Buffer.concat(chunks, size), ended: true };
    if (source.errored) throw source.errored;
    if (source.destroyed) throw new PhotoSourceError('the CRM answer closed before its end');
    await nextEvent(source);
  }
}

/** Resolves at the source's next 'readable', 'end', 'error' or 'close', whichever comes first. */
function nextEvent(source: Readable): Promise<void> {
  return new Promise((resolve) => {
    const events = ['readable', 'end', 'error', 'close'] as const;
    const done = () => {
      for (const event of events) source.off(event, done);
      resolve();
    };
    for (const event of events) source.on(event, done);
  });
}

/**
 * The head, then the rest of the source as it arrives, at the pace the consumer reads it (the source is paused
 * while the consumer's buffer is full, which pauses the CRM's connection). Destroying it destroys the source,
 * which aborts the CRM request. A consumer that takes nothing for `idleTimeoutMs` while data waits gets a
 * DownloadStalledError; one that takes less than `minBytesPerSecond` on average while data waits (it may fall
 * behind by `idleTimeoutMs` worth), or is still reading `maxMs` after the forward began, a DownloadTooSlowError
 * (the uploads' PaceCheck, checked whenever the consumer asks for more or its buffer fills: no timer of its own);
 * a source that breaks off, a PhotoSourceError. Time spent waiting on the CRM does not count against the floor.
 */
export class PhotoForward extends Readable {
  readonly #source: Readable;
  readonly #idleTimeoutMs: number;
  readonly #pace: PaceCheck;
  #wanted = false;
  /** Bytes handed to the consumer since the pace was last checked. */
  #handedOut = 0;
  #handedOutTotal = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(head: Buffer, source: Readable, options: { idleTimeoutMs: number; ended: boolean } & Pick<PaceLimits, 'minBytesPerSecond' | 'maxMs'>) {
    super({ highWaterMark: 64 * 1024 });
    this.#source = source;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#pace = new PaceCheck(options);
    this.#handedOut = head.length;
    this.#handedOutTotal = head.length;
    if (head.length > 0) this.push(head);
    if (options.ended) {
      this.push(null);
      return;
    }
    source.on('readable', this.#pump);
    source.on('end', this.#onEnd);
    source.on('error', this.#onError);
    source.on('close', this.#onClose);
  }

  /** Photo bytes handed to the consumer so far. */
  get bytesForwarded(): number {
    return this.#handedOutTotal;
  }

  override _read(): void {
    this.#wanted = true;
    this.#disarm();
    if (!this.#checkPace()) return;
    this.#pump();
  }

  /** Settles the wait on the consumer against the floor and the ceiling; false when it cut the download off. */
  #checkPace(): boolean {
    const verdict = this.#pace.check(this.#handedOut);
    this.#handedOut = 0;
    if (verdict === 'ok') return true;
    this.destroy(
      new DownloadTooSlowError(
        verdict === 'past-ceiling'
          ? `the client was still reading the photo after the ${this.#pace.maxMs / 1000} s one download may take`
          : `the client read less than ${this.#pace.minBytesPerSecond} bytes a second, the least a download must keep up`,
      ),
    );
    return false;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#disarm();
    this.#source.off('readable', this.#pump);
    this.#source.off('end', this.#onEnd);
    this.#source.off('close', this.#onClose);
    // Its error listener stays: the source may still report the abort we are about to cause.
    discardSource(this.#source);
    callback(error);
  }

  readonly #pump = (): void => {
    while (this.#wanted) {
      // At most a buffer's worth at a time, so the consumer's pace is measured in steps no larger than that.
      if (this.#source.readableLength === 0) {
        this.#source.read(0); // asks the source for more (or to end), taking nothing
        if (this.#source.readableLength === 0) return;
      }
      const chunk = this.#source.read(Math.min(this.#source.readableLength, this.readableHighWaterMark)) as Buffer | null;
      if (chunk === null) return;
      this.#handedOut += chunk.length;
      this.#handedOutTotal += chunk.length;
      this.#wanted = this.push(chunk);
    }
    // The consumer's buffer is full: from now until it asks for more, it is the one we wait on.
    if (!this.#checkPace()) return;
    this.#pace.waiting();
    this.#arm();
  };

  readonly #onEnd = (): void => {
    this.push(null);
  };

  readonly #onError = (error: unknown): void => {
    this.destroy(new PhotoSourceError(`the CRM answer failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
  };

  readonly #onClose = (): void => {
    if (!this.#source.readableEnded) this.destroy(new PhotoSourceError('the CRM answer closed before its end'));
  };

  #arm(): void {
    if (this.#idleTimeoutMs <= 0 || this.destroyed) return;
    if (this.#idleTimer) this.#idleTimer.refresh();
    else this.#idleTimer = setTimeout(this.#onIdle, this.#idleTimeoutMs);
  }

  #disarm(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  readonly #onIdle = (): void => {
    this.#idleTimer = undefined;
    if (!this.#wanted) this.destroy(new DownloadStalledError(`the client read nothing of the photo for ${this.#idleTimeoutMs} ms`));
  };
}
