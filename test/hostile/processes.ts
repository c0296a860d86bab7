/**
 * The CRM emulator and the gateway, each as its own OS process (`node emulator/main.ts`, `node src/main.ts`),
 * wired together through ZOHO_API_DOMAIN — so the gateway's RSS and file descriptors can be read from /proc
 * without the test runner's own memory in the figures. Shared by test/hostile and test/soak.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EmulatorControl } from '../support/emulator-control.ts';
import { NODE, start, type Started } from '../support/process.ts';

export interface ProcessStack {
  emulator: Started;
  gateway: Started;
  crm: EmulatorControl;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  gatewayPid: number;
  /**
   * Runs full GCs in the gateway and returns its memory right after, with the RSS read from /proc. Only with
   * `{ gcProbe: true }`, which preloads test/hostile/gc-probe.ts into the gateway.
   */
  memoryAfterGc(): Promise<GatewayMemory>;
  close(): Promise<void>;
}

export interface GatewayMemory {
  /** VmRSS from /proc/<pid>/status, read after the GC. */
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const GC_PROBE = fileURLToPath(new URL('./gc-probe.ts', import.meta.url));

export async function startProcessStack(
  gatewayEnv: Record<string, string> = {},
  options: { gcProbe?: boolean } = {},
): Promise<ProcessStack> {
  const emulator = start(NODE, ['emulator/main.ts'], { env: { EMULATOR_PORT: '0' } });
  let gateway: Started | undefined;
  try {
    const origin = (await emulator.waitFor(/CRM emulator listening on (http:\/\/\S+)/))[1]!;
    gateway = start(NODE, ['src/main.ts'], {
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        // No metrics listener: parallel test processes would all ask for 9464.
        METRICS_PORT: '0',
        ZOHO_API_DOMAIN: origin,
        SHUTDOWN_GRACE_MS: '0',
        ...(options.gcProbe ? { NODE_OPTIONS: `--expose-gc --import ${GC_PROBE}` } : {}),
        ...gatewayEnv,
      },
    });
    const url = (await gateway.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
    const started = gateway;
    let probes = 0;
    return {
      emulator,
      gateway: started,
      crm: new EmulatorControl(origin),
      url,
      gatewayPid: started.child.pid!,
      async memoryAfterGc() {
        if (!options.gcProbe) throw new Error('startProcessStack(…, { gcProbe: true }) to sample memory after GC');
        probes += 1;
        started.child.kill('SIGUSR2');
        const usage = JSON.parse((await started.waitFor(new RegExp(`memory-probe ${probes} (\\{.*\\})`), 10_000))[1]!) as NodeJS.MemoryUsage;
        return { rss: rssBytes(started.child.pid!), heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers };
      },
      async close() {
        await Promise.all([started.stop('SIGKILL'), emulator.stop('SIGKILL')]);
      },
    };
  } catch (error) {
    await Promise.all([gateway?.stop('SIGKILL'), emulator.stop('SIGKILL')]);
    throw error;
  }
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd). */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export const MB = 1024 * 1024;
export const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

/** A small seeded PRNG (mulberry32): the same seed gives the same corpus and the same soak mix on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls until `ok(value)` or the deadline; returns the last value either way. */
export async function settle<T>(check: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
