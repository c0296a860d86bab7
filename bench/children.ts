/**
 * The bench's child processes, parent side: forks with an IPC channel, waits for "ready", calls over IPC, and
 * makes sure none outlives the bench — every exit path kills them, and an unexpected death fails the run with
 * the process's name, exit status and last output.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { ChildMessage, IpcCall } from './ipc.ts';

const OUTPUT_TAIL_CHARS = 6_000;

export class ChildDiedError extends Error {
  override name = 'ChildDiedError';
}

export interface ForkOptions {
  name: string;
  /** Path of the module to run, relative to the project root. */
  module: string;
  cwd: string;
  env?: Record<string, string>;
  execArgv?: string[];
  /** What the child prints or announces when it is ready; resolves with what to know about it. */
  ready: { announce: string } | { stdout: RegExp } | { poll: string };
  readyTimeoutMs?: number;
}

export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Set once we asked it to stop: its exit is then expected. */
  #stopping = false;
  #output = '';
  #nextCall = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly #announced = new Map<string, unknown>();
  readonly #announceWaiters = new Map<string, (value: unknown) => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #death: Error | undefined;
  readonly #deathListeners = new Set<(error: Error) => void>();

  constructor(options: ForkOptions) {
    this.name = options.name;
    this.process = fork(options.module, [], {
      cwd: options.cwd,
      execPath: process.execPath,
      execArgv: options.execArgv ?? [],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    if (this.process.pid === undefined) throw new Error(`could not start ${this.name}`);
    this.pid = this.process.pid;
    live.add(this);
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    this.process.on('message', (raw) => this.#onMessage(raw as ChildMessage));
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        live.delete(this);
        if (!this.#stopping) {
          this.#die(
            new ChildDiedError(
              `${this.name} (pid ${this.pid}) exited unexpectedly with ${signal ? `signal ${signal}` : `code ${code}`}.` +
                `\n--- its last output ---\n${this.#output.trim() || '(none)'}\n---`,
            ),
          );
        } else {
          this.#die(new ChildDiedError(`${this.name} was stopped`));
        }
        resolve({ code, signal });
      });
    });
    this.process.once('error', (error) => this.#die(new ChildDiedError(`${this.name}: ${error.message}`)));
  }

  get output(): string {
    return this.#output;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  #die(error: Error): void {
    if (this.#death) return;
    this.#death = error;
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
    for (const listener of this.#deathListeners) listener(error);
  }

  /** Calls `listener` if the child dies (or has died) while not being stopped by us. */
  onUnexpectedDeath(listener: (error: Error) => void): void {
    const wrapped = (error: Error): void => {
      if (!this.#stopping) listener(error);
    };
    if (this.#death) wrapped(this.#death);
    else this.#deathListeners.add(wrapped);
  }

  #onMessage(message: ChildMessage): void {
    if (message.kind === 'reply') {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Error(`${this.name}: ${message.error}`));
    } else if (message.kind === 'announce') {
      this.#announced.set(message.topic, message.value);
      this.#announceWaiters.get(message.topic)?.(message.value);
    }
  }

  call<T>(method: string, params: unknown = null): Promise<T> {
    if (this.#death) return Promise.reject(this.#death);
    const id = this.#nextCall++;
    const call: IpcCall = { kind: 'call', id, method, params };
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.process.send(call);
    });
  }

  async waitForAnnouncement<T>(topic: string, timeoutMs: number): Promise<T> {
    if (this.#announced.has(topic)) return this.#announced.get(topic) as T;
    return this.#withDeadline(
      new Promise<T>((resolve) => this.#announceWaiters.set(topic, resolve as (value: unknown) => void)),
      timeoutMs,
      `announce '${topic}'`,
    );
  }

  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return this.#withDeadline(
      new Promise<RegExpMatchArray>((resolve) => {
        const check = (): void => {
          const match = this.#output.match(pattern);
          if (match) {
            this.process.stdout!.off('data', check);
            this.process.stderr!.off('data', check);
            resolve(match);
          }
        };
        this.process.stdout!.on('data', check);
        this.process.stderr!.on('data', check);
        check();
      }),
      timeoutMs,
      `print ${pattern}`,
    );
  }

  #withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not ${what} within ${timeoutMs} ms.\n--- its output ---\n${this.#output.trim()}\n---`)),
        timeoutMs,
      );
      this.onUnexpectedDeath((error) => {
        clearTimeout(timer);
        reject(error);
      });
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    this.#stopping = true;
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

const live = new Set<Child>();

/** Forks and waits until the child says (or prints) it is ready. */
export async function startChild<T = unknown>(options: ForkOptions): Promise<{ child: Child; ready: T }> {
  const child = new Child(options);
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const ready =
    'announce' in options.ready
      ? await child.waitForAnnouncement<T>(options.ready.announce, timeoutMs)
      : 'poll' in options.ready
        ? ((await waitForAnswer(child, options.ready.poll, timeoutMs)) as unknown as T)
        : ((await child.waitForOutput(options.ready.stdout, timeoutMs)) as unknown as T);
  return { child, ready };
}

/** For a child that prints nothing when it is ready (a gateway logging only warnings): poll a URL until it answers 200. */
async function waitForAnswer(child: Child, url: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return url;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms.\n--- its output ---\n${child.output.trim()}\n---`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops every child still running, gracefully then by force. */
export async function stopAll(graceMs = 3_000): Promise<void> {
  await Promise.all([...live].map((child) => child.stop(graceMs)));
}

/** Last resort on process exit: synchronous SIGKILL of whatever is left. */
export function killAllNow(): void {
  for (const child of live) {
    try {
      child.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
