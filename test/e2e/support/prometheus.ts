import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/ports.ts';

/** Debian's Prometheus (apt-get install prometheus); its own service is never used, only this binary. */
export const PROMETHEUS_PATH = '/usr/bin/prometheus';

export interface Prometheus {
  /** e.g. http://127.0.0.1:40123 */
  readonly origin: string;
  /** Instant query through the HTTP API: each series' labels and value. */
  query(promql: string): Promise<{ labels: Record<string, string>; value: number }[]>;
  /** Polls `query` until `done` holds for its result, or fails after `timeoutMs` with the last result. */
  waitFor(
    promql: string,
    done: (result: { labels: Record<string, string>; value: number }[]) => boolean,
    timeoutMs?: number,
  ): Promise<{ labels: Record<string, string>; value: number }[]>;
  output(): string;
  /** Stops the server and removes its configuration and storage. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real Prometheus on a free loopback port, scraping `targets` (host:port, on loopback) at `/metrics` every second,
 * with its configuration and storage in a temp directory of its own.
 */
export async function startPrometheus(targets: string[], options: { job?: string } = {}): Promise<Prometheus> {
  await access(PROMETHEUS_PATH, constants.X_OK).catch(() => {
    throw new Error(`${PROMETHEUS_PATH} is missing: apt-get install prometheus (.ci/run does)`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'e2e-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(
    configFile,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      `  - job_name: ${options.job ?? 'crm-record-photos'}`,
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${targets.map((target) => `'${target}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS_PATH,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Ready: its HTTP API answers /-/ready with 200.
  const readyBy = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    }
    const ready = await fetch(`${origin}/-/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > readyBy) {
      await stop();
      throw new Error(`prometheus was not ready within 30 s:\n${output}`);
    }
    await sleep(100);
  }

  const query: Prometheus['query'] = async (promql) => {
    const response = await fetch(`${origin}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success' || body.data?.resultType !== 'vector') {
      throw new Error(`query ${promql}: ${response.status} ${JSON.stringify(body)}`);
    }
    return body.data.result.map((series) => ({ labels: series.metric, value: Number(series.value[1]) }));
  };

  return {
    origin,
    query,
    async waitFor(promql, done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const result = await query(promql);
        if (done(result)) return result;
        if (Date.now() > deadline) throw new Error(`${promql} never matched within ${timeoutMs} ms; last: ${JSON.stringify(result)}`);
        await sleep(250);
      }
    },
    output: () => output,
    stop,
  };
}
