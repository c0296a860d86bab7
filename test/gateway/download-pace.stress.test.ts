import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { png, withPadding } from '../fixtures/images.ts';
import { download } from '../support/photo-routes.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

const PHOTO_PATH = '/photos/Leads/1000000000001';
const AUTH = 'Zoho-oauthtoken emulator-token';
/**
 * Near the 10 MiB a photo may be: loopback's socket buffers soak up most of a photo before the gateway feels how
 * fast its client reads (about 8 MB here), so only a photo larger than them shows a slow reader to the gateway.
 */
const PHOTO_BYTES = 10_000_000;

/**
 * A raw HTTP/1.1 client on loopback that takes `bytesPerSecond` of the answer, in a burst every `tickMs` (well inside
 * the idle timeout: it never goes quiet for a whole window). Coarse ticks keep the kernel from growing the socket's
 * receive buffer, so what the gateway sees is the client's pace, not loopback's appetite.
 */
function pacedReader(url: string, bytesPerSecond: number, { tickMs = 500, trickle = false } = {}) {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.write(`GET ${PHOTO_PATH} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: ${AUTH}\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  let received = 0;
  let allowed = 0;
  const perTick = Math.round((bytesPerSecond * tickMs) / 1000);
  socket.pause();
  if (!trickle) socket.on('data', (chunk: Buffer) => {
    const room = allowed - received;
    if (chunk.length > room) {
      socket.pause();
      socket.unshift(chunk.subarray(room));
      chunk = chunk.subarray(0, room);
    }
    chunks.push(chunk);
    received += chunk.length;
    if (received >= allowed) socket.pause();
  });
  const tick = () => {
    allowed += perTick;
    if (!trickle) return void socket.resume();
    // Trickle: take what Node already holds (at most its buffer), never asking the kernel for more at once.
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      const room = allowed - received;
      if (chunk.length > room) socket.unshift(chunk.subarray(room));
      const taken = chunk.subarray(0, room);
      chunks.push(taken);
      received += taken.length;
      if (received >= allowed) break;
    }
  };
  const timer = setInterval(tick, tickMs);
  // A trickle starts at its first tick: a read() before the answer comes would set the socket reading unbounded.
  if (!trickle) tick();
  const started = performance.now();
  const closed = new Promise<number>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve(performance.now() - started);
    });
    // the last bytes come in before the close: take them all
    socket.on('end', () => {
      allowed = Number.POSITIVE_INFINITY;
      if (trickle) tick();
      else socket.resume();
    });
  });
  return {
    /** Resolves with the ms from the request to the connection's close. */
    closed,
    /** The whole answer as received: head and body. */
    answer: () => Buffer.concat(chunks),
    get received() {
      return received;
    },
    stop() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still open'> {
  return Promise.race([promise, new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), ms))]);
}

async function settle<T>(check: () => T, ok: (value: T) => boolean, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** One CRM slot and no queue: while a download holds the slot, a second one is refused at once (429). */
async function stackWithPhoto(env: Record<string, string>): Promise<{ stack: Stack; photo: Uint8Array }> {
  stack = await startStack({ CRM_MAX_CONCURRENCY: '1', CRM_MAX_QUEUE: '0', UPLOAD_IDLE_TIMEOUT_MS: '1000', ...env });
  const photo = withPadding(png(8, 8), PHOTO_BYTES);
  expect(resultOf(await uploadPhoto(stack.url, { file: photo })).__typename).toBe('UploadRecordPhotoSuccess');
  return { stack, photo };
}

describe('a download holds its CRM slot no longer than a slow upload would', () => {
  it('cuts a reader past UPLOAD_MAX_SECONDS however fast it reads, and frees the slot', async () => {
    // No floor, an idle timeout that never fires: only the 2 s ceiling stands between this reader and the slot.
    const { stack: s } = await stackWithPhoto({ UPLOAD_MIN_BYTES_PER_SECOND: '0', UPLOAD_MAX_SECONDS: '2', UPLOAD_IDLE_TIMEOUT_MS: '20000' });
    const started = performance.now();
    const reader = pacedReader(s.url, 300_000); // the whole photo would take over 30 s
    expect((await settle(() => s.gateway.crmLoad(), (l) => l.inFlight === 1)).inFlight).toBe(1);
    const load = await settle(() => s.gateway.crmLoad(), (l) => l.inFlight === 0, 10_000);
    const freedAfter = performance.now() - started;
    console.info(`past the ceiling: slot freed after ${Math.round(freedAfter)} ms, the reader at ${reader.received} of ${PHOTO_BYTES} bytes`);
    expect(load).toEqual({ inFlight: 0, queued: 0 });
    expect(freedAfter).toBeGreaterThanOrEqual(2_000);
    expect(reader.received).toBeLessThan(PHOTO_BYTES / 2);
    reader.stop();
  }, 25_000);

  it('frees the slot of a reader below the floor that is never idle for a whole window', async () => {
    // Floor 1.5 MB/s over a 5 s window; the reader takes 400 KB/s.
    const { stack: s } = await stackWithPhoto({ UPLOAD_MIN_BYTES_PER_SECOND: '1500000', UPLOAD_IDLE_TIMEOUT_MS: '5000' });
    const started = performance.now();
    const reader = pacedReader(s.url, 400_000);
    expect((await settle(() => s.gateway.crmLoad(), (l) => l.inFlight === 1)).inFlight).toBe(1);
    const load = await settle(() => s.gateway.crmLoad(), (l) => l.inFlight === 0, 10_000);
    const freedAfter = performance.now() - started;
    console.info(`below the floor: slot freed after ${Math.round(freedAfter)} ms, the reader at ${reader.received} of ${PHOTO_BYTES} bytes`);
    expect(load).toEqual({ inFlight: 0, queued: 0 });
    expect(reader.received).toBeLessThan(PHOTO_BYTES / 2);
    reader.stop();
  }, 25_000);

  it('an honest reader, slow but above the floor, gets every byte', async () => {
    const { stack: s, photo } = await stackWithPhoto({ UPLOAD_MIN_BYTES_PER_SECOND: '1000000' });
    // 2 MB/s against a 1 MB/s floor: about 5 s for the photo.
    const reader = pacedReader(s.url, 2_000_000);
    const closedAfter = await within(reader.closed, 15_000);
    expect(closedAfter).not.toBe('still open');
    const answer = reader.answer();
    const bodyAt = answer.indexOf('\r\n\r\n') + 4;
    expect(answer.subarray(0, 15).toString('latin1')).toBe('HTTP/1.1 200 OK');
    expect(answer.subarray(bodyAt).equals(Buffer.from(photo))).toBe(true);
    console.info(`above the floor: all ${PHOTO_BYTES} bytes in ${Math.round(closedAfter as number)} ms`);
  }, 25_000);
});
