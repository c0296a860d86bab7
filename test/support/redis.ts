import { start, type Started } from './process.ts';
import { freePort } from './ports.ts';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Whether the server runs (not stopped; a frozen one counts as running). */
  readonly running: boolean;
  /** Stops the server (SIGKILL: as a crash, nothing flushed); `start` brings it back on the same port, empty. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing (a frozen Redis, a black-holed network). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
}

/** Debian's redis-server on a free loopback port, nothing saved to disk (`password`: --requirepass); stop it in afterAll. */
export async function startRedis(options: { password?: string } = {}): Promise<TestRedis> {
  const port = await freePort();
  let server: Started | null = null;
  const auth = options.password ? ['--requirepass', options.password] : [];
  const launch = async () => {
    server = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...auth], { cwd: '/tmp' });
    await server.waitFor(/Ready to accept connections/);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return server !== null;
    },
    async stop() {
      await server?.stop('SIGKILL');
      server = null;
    },
    start: launch,
    freeze() {
      server?.child.kill('SIGSTOP');
    },
    thaw() {
      server?.child.kill('SIGCONT');
    },
  };
}
