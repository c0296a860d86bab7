import { connect, type Socket } from 'node:net';

export interface SocketLife {
  /** From connect to the server closing it; null when it was still open when the test stopped waiting. */
  closedAfterMs: number | null;
  /** What the server wrote before closing, e.g. its 408. */
  received: string;
}

/**
 * Opens a TCP connection to the gateway, lets `behave` write (or not) on it, and reports how long the server kept it.
 * It reads everything, so it sees the server's close at once (a socket nobody reads never notices it).
 */
export function socketLife(url: string, behave: (socket: Socket) => (() => void) | void, waitMs: number): Promise<SocketLife> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    let stop: (() => void) | void;
    const socket = connect(Number(port), hostname, () => {
      stop = behave(socket);
    });
    const done = (closedAfterMs: number | null) => {
      clearTimeout(giveUp);
      stop?.();
      socket.destroy();
      resolve({ closedAfterMs, received: Buffer.concat(chunks).toString('latin1') });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => done(performance.now() - started));
    const giveUp = setTimeout(() => {
      socket.removeAllListeners('close');
      done(null);
    }, waitMs);
  });
}
