/**
 * Start-up and idle: for the gateway (`node dist/main.js`, compiled, as the container image runs it) and each peer,
 * the time from the process's start (just before the fork) to its first 200 from `GET /health`, and its resident
 * memory once idle (median of readings over 200 ms, 0.5 s after that answer). Fresh processes, one at a time, `runs` times each.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from './children.ts';
import { freePort } from './servers.ts';
import { idleRss } from './proc.ts';
import { median } from './stats.ts';

export type StartUpTarget = 'gateway' | 'apollo' | 'multer' | 'buffering';
export const START_UP_TARGETS: readonly StartUpTarget[] = ['gateway', 'apollo', 'multer', 'buffering'];

export interface StartUpOutcome {
  path: StartUpTarget;
  /** Per run, ms from the fork to the first 200 from /health. */
  startMs: number[];
  /** Per run, VmRSS 1 s after that, bytes. */
  idleRss: number[];
  medianStartMs: number;
  medianIdleRss: number;
}

/** How long after its first answer a process is left alone before its idle memory is read. */
const IDLE_AFTER_MS = 500;

const MODULES: Record<StartUpTarget, string> = {
  gateway: 'dist/main.js',
  apollo: 'bench/peers/apollo-upload.ts',
  multer: 'bench/peers/multer-rest.ts',
  buffering: 'bench/buffering-gateway.ts',
};

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** `npm run build`'s server step (the type check, then the bundle: src/server-build.ts), unless dist/main.js is newer
 * than every file in src/. GraphiQL's assets are not built: the image runs with GRAPHIQL=false, and so does the bench. */
export function ensureBuilt(root: string): 'built' | 'up to date' {
  const main = `${root}dist/main.js`;
  if (existsSync(main) && statSync(main).mtimeMs >= newest(`${root}src`)) return 'up to date';
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [`${root}src/server-build.ts`, `${root}dist`], { cwd: root, stdio: 'inherit' });
  return 'built';
}

function environment(path: StartUpTarget, port: number, sinkOrigin: string): Record<string, string> {
  if (path === 'gateway') {
    // As the image runs it (Dockerfile): production, GraphiQL off, its NODE_OPTIONS; metrics off (9464 may be taken).
    return {
      NODE_ENV: 'production',
      NODE_OPTIONS: '--max-semi-space-size=2',
      GRAPHIQL: 'false',
      METRICS_PORT: '0',
      PORT: String(port),
      HOST: '127.0.0.1',
      ZOHO_API_DOMAIN: sinkOrigin,
    };
  }
  return { NODE_ENV: 'production', PORT: String(port), SINK_ORIGIN: sinkOrigin };
}

async function once(root: string, path: StartUpTarget, sinkOrigin: string): Promise<{ startMs: number; idleRss: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/health`;
  const startedAt = performance.now();
  const child = new Child({ name: `${path} (start-up)`, module: MODULES[path], cwd: root, env: environment(path, port, sinkOrigin), ready: { poll: url } });
  let died: Error | undefined;
  child.onUnexpectedDeath((error) => {
    died = error;
  });
  try {
    for (;;) {
      if (died) throw died;
      try {
        const answer = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        await answer.arrayBuffer();
        if (answer.status === 200) break;
      } catch {
        // not listening yet
      }
      if (performance.now() - startedAt > 30_000) throw new Error(`${path} did not answer ${url} within 30 s:\n${child.output}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const startMs = performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, IDLE_AFTER_MS));
    return { startMs, idleRss: await idleRss(child.pid, 10, 20) };
  } finally {
    await child.stop();
  }
}

/** Each target `runs` times, the targets alternated so that all see the same machine load. */
export async function measureStartUp(root: string, sinkOrigin: string, runs: number, targets: readonly StartUpTarget[]): Promise<StartUpOutcome[]> {
  const samples = new Map(targets.map((path) => [path, { startMs: [] as number[], idleRss: [] as number[] }]));
  for (let run = 0; run < runs; run++) {
    for (const path of targets) {
      const sample = await once(root, path, sinkOrigin);
      samples.get(path)!.startMs.push(sample.startMs);
      samples.get(path)!.idleRss.push(sample.idleRss);
    }
  }
  return targets.map((path) => {
    const { startMs, idleRss: rss } = samples.get(path)!;
    return { path, startMs, idleRss: rss, medianStartMs: median(startMs), medianIdleRss: median(rss) };
  });
}
