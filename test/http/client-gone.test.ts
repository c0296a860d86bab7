import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientGoneError, clientGoneSignal } from '../../src/http/client-gone.ts';

describe('clientGoneSignal', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** A server whose handler hands out each request's signal; `answer` says whether it responds. */
  async function listen(answer: boolean): Promise<{ port: number; signals: AbortSignal[]; handled: Promise<void>; closed: Promise<void> }> {
    const signals: AbortSignal[] = [];
    let handledResolve!: () => void;
    const handled = new Promise<void>((resolve) => (handledResolve = resolve));
    let closedResolve!: () => void;
    const closed = new Promise<void>((resolve) => (closedResolve = resolve));
    server = createServer((req, res) => {
      signals.push(clientGoneSignal(res));
      handledResolve();
      res.once('close', () => setImmediate(closedResolve));
      req.resume();
      if (answer) req.once('end', () => res.end('done'));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { port: (server!.address() as AddressInfo).port, signals, handled, closed };
  }

  it('stays quiet when the answer was sent, even after the connection closes', async () => {
    const { port, signals, closed } = await listen(true);
    const text = await new Promise<string>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', method: 'POST', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end('hello');
    });
    await closed;
    expect(text).toBe('done');
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);
  });

  it('aborts with ClientGoneError when the client leaves before its answer', async () => {
    const { port, signals, handled, closed } = await listen(false);
    const req = request({ port, host: '127.0.0.1', method: 'POST', agent: false, headers: { 'content-length': '100' } });
    req.on('error', () => {});
    req.write('part of a body');
    await handled;
    expect(signals[0]!.aborted).toBe(false);
    req.destroy();
    await closed;
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(ClientGoneError);
  });

  it('is born aborted when the client left before it was made', async () => {
    let made!: (signal: AbortSignal) => void;
    const signal = new Promise<AbortSignal>((resolve) => (made = resolve));
    let handledResolve!: () => void;
    const handled = new Promise<void>((resolve) => (handledResolve = resolve));
    server = createServer((_req, res) => {
      res.once('close', () => made(clientGoneSignal(res)));
      handledResolve();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', method: 'POST', agent: false, headers: { 'content-length': '100' } });
    req.on('error', () => {});
    req.write('part of a body');
    await handled;
    req.destroy();
    const late = await signal;
    expect(late.aborted).toBe(true);
    expect(late.reason).toBeInstanceOf(ClientGoneError);
  });
});
