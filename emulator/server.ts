/**
 * The CRM emulator's HTTP server: routes control, token-endpoint (accounts server) and API requests, and owns
 * every socket it accepts. Its origin is both the CRM API origin and the accounts origin.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { handleApiRequest } from './api.ts';
import { handleControlRequest, isControlPath } from './control.ts';
import { EmulatorState } from './state.ts';
import { TOKEN_PATH } from './accounts.ts';
import { handleTokenRequest } from './token-endpoint.ts';

// The entry's one constant: whoever loads this module alone (npm start's embedded CRM) gets the demo token with it.
export { EMULATOR_TOKEN } from './state.ts';

export interface CrmEmulatorOptions {
  /** 0 (the default) picks a free ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** API names of custom modules that take photos, e.g. ['Vehicles']. */
  customModules?: string[];
}

export interface CrmEmulator {
  /** e.g. http://127.0.0.1:54321 */
  readonly origin: string;
  /** The accounts server's origin (POST {accountsOrigin}/oauth/v2/token): the same as `origin`. */
  readonly accountsOrigin: string;
  readonly state: EmulatorState;
  /** Stops listening and destroys every open socket, including requests held by a hang fault. */
  close(): Promise<void>;
}

export async function startCrmEmulator(options: CrmEmulatorOptions = {}): Promise<CrmEmulator> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  const state = new EmulatorState({ customModules: options.customModules ?? [] });
  // Each open socket with a promise of its 'close', so close() can wait until every request saw it.
  const sockets = new Map<Socket, Promise<void>>();
  let origin = ''; // set once listening, before any request can arrive

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (isControlPath(path)) handleControlRequest(state, req, res);
    else if (path === TOKEN_PATH) handleTokenRequest(state, origin, req, res);
    else handleApiRequest(state, req, res);
  });
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => {}); // resets by clients are routine here; the request log records them
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    sockets.set(socket, closed);
    void closed.then(() => sockets.delete(socket));
  });
  server.on('clientError', (_error: Error, socket: Socket) => {
    // Unparseable HTTP: answer 400 if the socket still can, then drop it.
    if (!socket.writable) return void socket.destroy();
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', () => {}); // after listening, server errors are per-connection and already handled

  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${hostPart}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    origin,
    accountsOrigin: origin,
    state,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const socketsClosed = [...sockets.values()];
        for (const socket of sockets.keys()) socket.destroy();
        await Promise.all([stopped, ...socketsClosed]);
      })();
      return closing;
    },
  };
}
