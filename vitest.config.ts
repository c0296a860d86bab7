import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * Long runs — the soak, the hostile multipart corpus, the Dockerfile replayed (a production install and a full
 * compile), exhaustive replays (*.stress.test.ts) — run in `npm run test:stress`, not `npm test`.
 */
export const STRESS_TESTS = ['test/soak/**/*.test.ts', 'test/hostile/**/*.test.ts', 'test/app/docker-image.test.ts', 'test/**/*.stress.test.ts'];

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS entry for every library; tests must share that one copy.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', ...STRESS_TESTS],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    globalSetup: ['test/support/graphiql-assets.ts'],
    pool: 'forks',
    // Most tests wait (on sockets, timers, child processes) rather than compute: three files at a time, even on
    // a two-core machine (where the default would be one). A worker keeps its imports from one file to the next
    // instead of loading Yoga, Pothos and the rest again for every file; tests restore what they change (timers,
    // spies, env), and the e2e and stress configs go back to a fresh worker per file.
    maxWorkers: 3,
    isolate: false,
  },
});
