// What a production process loads: neither the GraphiQL bundle (about 9 MB of source, ≈ 50 MiB resident) nor
// pino-pretty (≈ 10 MiB), which only a person at a terminal needs (bench/FINDINGS.md, start-up and idle).
import { afterAll, describe, expect, it } from 'vitest';
import { modulesLoadedByAnUpload } from '../support/module-load-run.ts';
import type { Started } from '../support/process.ts';

const GRAPHIQL_BUNDLE = /module-load \S*(\/esbuild\/|graphiql-build|@graphql-yoga\/render-graphiql)/;
const PINO_PRETTY = /module-load \S*\/pino-pretty\//;
// Only a gateway with REDIS_URL (several replicas) needs a Redis client.
const REDIS_CLIENT = /module-load \S*\/(ioredis|redis-semaphore)\//;

describe('modules loaded by the gateway process', () => {
  const running: Started[] = [];
  afterAll(async () => {
    await Promise.all(running.map((app) => app.stop()));
  });

  const loadsOf = (env: Record<string, string>) => modulesLoadedByAnUpload(env, running);

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
