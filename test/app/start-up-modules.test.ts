// What a production process loads: neither the GraphiQL bundle (about 9 MB of source, ≈ 50 MiB resident) nor
// pino-pretty (≈ 10 MiB), which only a person at a terminal needs (bench/FINDINGS.md, start-up and idle).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { NODE, start, type Started } from '../support/process.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

const GRAPHIQL_BUNDLE = /module-load \S*(\/esbuild\/|graphiql-build|@graphql-yoga\/render-graphiql)/;
const PINO_PRETTY = /module-load \S*\/pino-pretty\//;
// Only a gateway with REDIS_URL (several replicas) needs a Redis client.
const REDIS_CLIENT = /module-load \S*\/(ioredis|redis-semaphore)\//;

describe('modules loaded by the gateway process', () => {
  const running: Started[] = [];
  afterAll(async () => {
    await Promise.all(running.map((app) => app.stop()));
  });

  /** Starts `src/main.ts`, uploads a photo, stops it: the package modules it loaded. */
  async function loadsOf(env: Record<string, string>): Promise<string> {
    const loads = join(await mkdtemp(join(tmpdir(), 'module-loads-')), 'loads.txt');
    const app = start(NODE, ['--import', './test/support/module-loads.ts', 'src/main.ts'], {
      env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', MODULE_LOADS_FILE: loads, ...env },
    });
    running.push(app);
    const url = (await app.waitFor(/GraphiQL at (http:\/\/\S+?\/graphql)/))[1]!;
    expect(resultOf(await uploadPhoto(url, { file: png(32, 32) })).__typename).toBe('UploadRecordPhotoSuccess');
    expect(await app.stop('SIGTERM')).toBe(0);
    return readFile(loads, 'utf8');
  }

  it('with GraphiQL off and JSON logs (as the image runs it), loads neither the GraphiQL bundle nor pino-pretty', async () => {
    const loads = await loadsOf({ GRAPHIQL: 'false', LOG_FORMAT: 'json' });
    expect(loads).toMatch(/module-load \S*\/graphql-yoga\//); // the recorder ran
    expect(loads).not.toMatch(GRAPHIQL_BUNDLE);
    expect(loads).not.toMatch(PINO_PRETTY);
    expect(loads).not.toMatch(REDIS_CLIENT);
  });

  it('(control: pretty logs, as at a terminal, load pino-pretty)', async () => {
    expect(await loadsOf({ GRAPHIQL: 'false', LOG_FORMAT: 'pretty' })).toMatch(PINO_PRETTY);
  });
});
