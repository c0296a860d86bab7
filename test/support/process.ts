import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The project's pinned Node, the one npm scripts run on. */
export const NODE = `${PROJECT_ROOT}node_modules/.bin/node`;
/**
 * Node's on-disk compile cache, for processes started from this checkout: a start of `node src/main.ts` after the
 * first skips most of the parsing and compiling (a third of its CPU time), which adds up over a suite of them.
 */
export const COMPILE_CACHE = `${PROJECT_ROOT}node_modules/.cache/node-compile-cache`;

export interface Started {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first match of `pattern` in stdout+stderr. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  /** The exit code, once the process has exited (however long ago). */
  exited: () => Promise<number | null>;
}

export function start(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Started {
  const cwd = options.cwd ?? PROJECT_ROOT;
  const child = spawn(command, args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...(cwd === PROJECT_ROOT ? { NODE_COMPILE_CACHE: COMPILE_CACHE } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    waitFor: async (pattern, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = output.match(pattern);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`never printed ${pattern} (exit ${child.exitCode}):\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
    exited: () => exit,
  };
}
