/**
 * What every peer shares: the sink it forwards to, the port it listens on (PORT for the start-up measurement, any
 * free one otherwise) and "ready" to the bench.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, exitWithParent } from '../ipc.ts';

export function sinkOrigin(): string {
  exitWithParent();
  const origin = process.env.SINK_ORIGIN;
  if (!origin) throw new Error('SINK_ORIGIN is not set');
  return origin;
}

export function listen(server: Server): void {
  server.keepAliveTimeout = 60_000;
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => announce('ready', { port: (server.address() as AddressInfo).port }));
}

