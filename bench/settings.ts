/** What to run, from the environment: the full matrix by default, BENCH_QUICK=1 for a smoke-sized run. */
import { fileURLToPath } from 'node:url';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export interface Settings {
  quick: boolean;
  sizes: number[];
  concurrency: number[];
  windowMs: number;
  warmupMs: number;
  /** crmAnswerDelaysMs: each forwarder gets one memory run per delay (the sink's wait before answering). */
  memory: { size: number; concurrency: number; requests: number; warmSize: number; crmAnswerDelaysMs: number[] };
  /** The WAN profile: a slow client link, a slow CRM; the cells it runs, each a fixed number of uploads. */
  wan: { clientMbps: number; crmMbps: number; crmDelayMs: number; cells: WanCell[] };
  /** Fresh processes per target for the start-up and idle figures. */
  startUpRuns: number;
  cellTimeoutMs: number;
  /** The whole run is aborted past this. */
  deadlineMs: number;
  outFile: string;
  root: string;
  /** Extra environment for the gateway (BENCH_GATEWAY_ENV=KEY=VALUE,KEY=VALUE); its defaults otherwise. */
  gatewayEnv: Record<string, string>;
  /** Whose src/main.ts is the gateway: this checkout, or BENCH_GATEWAY_ROOT (e.g. a patched copy, for A/B). */
  gatewayRoot: string;
}

export interface WanCell {
  size: number;
  concurrency: number;
  /** Uploads measured (each worker's first included: connections are already warm from the loopback cells). */
  requests: number;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function sizeList(name: string, raw: string): number[] {
  return raw.split(',').map((entry) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(k|kb|kib|m|mb|mib)?\s*$/i.exec(entry);
    if (!match) throw new SettingsError(`${name}: '${entry}' is not a size such as 100k, 1m or 9m`);
    const unit = (match[2] ?? '').toLowerCase().startsWith('m') ? MiB : (match[2] ?? '') === '' ? 1 : KiB;
    const bytes = Math.round(Number(match[1]) * unit);
    if (bytes < 1024 || bytes > 10 * MiB) throw new SettingsError(`${name}: ${entry} is outside 1 KiB .. 10 MiB (the gateway's limit)`);
    return bytes;
  });
}

function intList(name: string, raw: string, max: number): number[] {
  return raw.split(',').map((entry) => {
    const value = Number(entry.trim());
    if (!Number.isInteger(value) || value < 1 || value > max) throw new SettingsError(`${name}: '${entry}' is not a whole number 1..${max}`);
    return value;
  });
}

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new SettingsError(`${name}: '${raw}' is not a whole number ${min}..${max}`);
  return value;
}

function mbps(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0.1 || value > 100_000) throw new SettingsError(`${name}: '${raw}' is not a rate in Mbit/s from 0.1 to 100000`);
  return value;
}

/** The WAN cells: a few uploads each, enough for a p50 (a 9 MB upload takes about 4 s at 20 Mbit/s). */
function wanCells(sizes: number[], concurrency: number[], quick: boolean): WanCell[] {
  const cells: WanCell[] = [];
  for (const size of sizes) {
    for (const conc of concurrency) {
      const perWorker = conc > 1 ? (size > 4 * MiB ? 1 : 2) : size > 4 * MiB ? 3 : 4;
      cells.push({ size, concurrency: conc, requests: conc * perWorker });
    }
  }
  return cells;
}

function envList(name: string, raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(entry);
    if (!match) throw new SettingsError(`${name}: '${entry}' is not KEY=VALUE`);
    out[match[1]!] = match[2]!;
  }
  return out;
}

export function loadSettings(env: Record<string, string | undefined> = process.env, argv: readonly string[] = process.argv.slice(2)): Settings {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true' || argv.includes('--quick');
  const unknown = argv.filter((arg) => arg !== '--quick');
  if (unknown.length > 0) throw new SettingsError(`unknown argument ${unknown.join(' ')} (the only one is --quick; the rest is set by BENCH_* variables)`);
  const sizes = env.BENCH_SIZES ? sizeList('BENCH_SIZES', env.BENCH_SIZES) : quick ? [MiB] : [100 * KiB, MiB, 9 * MiB];
  const concurrency = env.BENCH_CONCURRENCY ? intList('BENCH_CONCURRENCY', env.BENCH_CONCURRENCY, 256) : [1, 16];
  const memoryConcurrency = int('BENCH_MEMORY_CONCURRENCY', env.BENCH_MEMORY_CONCURRENCY, quick ? 8 : 64, 1, 256);
  const memoryDelayMs = int('BENCH_MEMORY_CRM_DELAY_MS', env.BENCH_MEMORY_CRM_DELAY_MS, 1_000, 1, 60_000);
  return {
    quick,
    sizes,
    concurrency,
    windowMs: int('BENCH_WINDOW_MS', env.BENCH_WINDOW_MS, quick ? 500 : 1_200, 200, 60_000),
    warmupMs: quick ? 200 : 300,
    memory: {
      size: 9 * MiB,
      concurrency: memoryConcurrency,
      requests: memoryConcurrency,
      warmSize: MiB,
      crmAnswerDelaysMs: quick ? [memoryDelayMs] : [0, memoryDelayMs],
    },
    wan: {
      clientMbps: mbps('BENCH_CLIENT_MBPS', env.BENCH_CLIENT_MBPS, 20),
      crmMbps: mbps('BENCH_CRM_MBPS', env.BENCH_CRM_MBPS, 100),
      crmDelayMs: int('BENCH_CRM_DELAY_MS', env.BENCH_CRM_DELAY_MS, 300, 0, 60_000),
      cells: wanCells(quick ? [MiB] : [MiB, 9 * MiB], [1, 16], quick),
    },
    startUpRuns: int('BENCH_START_RUNS', env.BENCH_START_RUNS, quick ? 1 : 5, 1, 50),
    cellTimeoutMs: 120_000,
    // About 5 minutes on a quiet machine; other work on it (a shared developer box) can double that.
    deadlineMs: int('BENCH_DEADLINE_S', env.BENCH_DEADLINE_S, 720, 10, 3_600) * 1_000,
    outFile: env.BENCH_OUT ?? `${root}bench/${quick ? 'RESULTS-quick.md' : 'RESULTS.md'}`,
    root,
    gatewayEnv: envList('BENCH_GATEWAY_ENV', env.BENCH_GATEWAY_ENV),
    gatewayRoot: env.BENCH_GATEWAY_ROOT ? env.BENCH_GATEWAY_ROOT.replace(/\/?$/, '/') : root,
  };
}
