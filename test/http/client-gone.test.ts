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
  async function listen(answer: boolean): Promise<{ port: number; signals: AbortSignal[]; closed: Promise<void> }> {
    const signals: AbortSignal[] = [];
    let closedResolve!: () => void;
    const closed = new Promise<void>((resolve) => (closedResolve = resolve));
    server = createServer((req, res) => {
      signals.push(clientGoneSignal(res));
      res.once('close', () => setImmediate(closedResolve));
      req.resume();
      if (answer) req.once('end', () => res.end('done'));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { port: (server!.address() as AddressInfo).port, signals, closed };
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
    const { port, signals, closed } = await listen(false);
    const req = request({ port, host: '127.0.0.1', method: 'POST', agent: false, headers: { 'content-length': '100' } });
    req.on('error', () => {});
    req.write('part of a body');
    await new Promise((resolve) => setTimeout(resolve, 50));
    req.destroy();
    await closed;
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(ClientGoneError);
  });
});
