import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DownloadTooSlowError, PhotoForward } from '../../src/photos/photo-download-stream.ts';

/** A source with `bytes` waiting (the CRM is never the one we wait on), and a forward of it under the given floor. */
function forwardOf(bytes: number, minBytesPerSecond: number) {
  const source = new PassThrough({ highWaterMark: 64 * 1024 });
  // in the chunks a socket hands over, as the CRM's answer comes
  for (let left = bytes; left > 0; left -= 64 * 1024) source.write(Buffer.alloc(Math.min(left, 64 * 1024), 7));
  source.end();
  const forward = new PhotoForward(Buffer.alloc(0), source, { idleTimeoutMs: 1_000, minBytesPerSecond, maxMs: 0, ended: false });
  return { source, forward };
}

/** Pipes the forward into a consumer that takes `bytesPerSecond` (as a socket drained by a slow client would). */
function readPaced(forward: PhotoForward, bytesPerSecond: number) {
  let received = 0;
  const started = performance.now();
  const consumer = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      setTimeout(callback, (chunk.length / bytesPerSecond) * 1000);
    },
  });
  return new Promise<{ received: number; ms: number; error: unknown }>((resolve) => {
    const done = (error: unknown) => resolve({ received, ms: performance.now() - started, error });
    forward.on('error', done);
    consumer.on('finish', () => done(null));
    forward.pipe(consumer);
  });
}

describe('PhotoForward: the uploads\' rate floor, on the reading side', () => {
  it('cuts a consumer below the floor within the window, and lets go of the source (the CRM request)', async () => {
    const { source, forward } = forwardOf(4_000_000, 1_000_000);
    // 160 KB/s against a 1 MB/s floor with a 1 s window: about 1.2 s of slack.
    const result = await readPaced(forward, 160_000);
    expect(result.error).toBeInstanceOf(DownloadTooSlowError);
    expect((result.error as Error).message).toContain('1000000 bytes a second');
    expect(result.ms).toBeLessThan(2_500);
    expect(source.destroyed).toBe(true);
  });

  it('lets a consumer above the floor read every byte', async () => {
    const { forward } = forwardOf(1_500_000, 500_000);
    const result = await readPaced(forward, 1_000_000);
    expect(result.error).toBeNull();
    expect(result.received).toBe(1_500_000);
  });
});
