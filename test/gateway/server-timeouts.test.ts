import { describe, expect, it } from 'vitest';
import { socketLife } from '../support/raw-socket.ts';
import { useStack } from '../support/stack.ts';

// HEADERS_TIMEOUT_MS: a connection that sends no request, or never finishes its headers, is closed.

const stack = useStack({ HEADERS_TIMEOUT_MS: '500' });

/** Generous: the timeout, plus Node's check interval, plus a loaded machine. */
const WITHIN_MS = 2_000;

describe('HEADERS_TIMEOUT_MS', () => {
  it('closes a socket that never sends a byte', async () => {
    const life = await socketLife(stack.url, () => {}, 5_000);
    expect(life.closedAfterMs).not.toBeNull();
    expect(life.closedAfterMs!).toBeGreaterThanOrEqual(450);
    expect(life.closedAfterMs!).toBeLessThan(WITHIN_MS);
  });

  it('closes a socket whose headers never finish, with a 408', async () => {
    const life = await socketLife(stack.url, (socket) => void socket.write('POST /graphql HTTP/1.1\r\nHost: gateway\r\n'), 5_000);
    expect(life.closedAfterMs).not.toBeNull();
    expect(life.closedAfterMs!).toBeLessThan(WITHIN_MS);
    expect(life.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a socket that sends its headers a line at a time, however busy it looks', async () => {
    const life = await socketLife(
      stack.url,
      (socket) => {
        socket.write('POST /graphql HTTP/1.1\r\nHost: gateway\r\n');
        let n = 0;
        const timer = setInterval(() => socket.write(`X-Filler-${n++}: a\r\n`), 100);
        return () => clearInterval(timer);
      },
      5_000,
    );
    expect(life.closedAfterMs).not.toBeNull();
    expect(life.closedAfterMs!).toBeLessThan(WITHIN_MS);
  });

  it('leaves a connection that sent its request alone until it is answered, then keeps it alive', async () => {
    const life = await socketLife(
      stack.url,
      (socket) => void socket.write('GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n'),
      1_500,
    );
    expect(life.received).toMatch(/^HTTP\/1\.1 200 /);
    // still open: an idle keep-alive connection lasts Node's 5 s keepAliveTimeout, not the headers timeout
    expect(life.closedAfterMs).toBeNull();
  });
});
