import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// End-to-end proofs: real clients (Apollo Client, a Hive Gateway router, Chromium) against the real stack.
export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS entry for every library; tests must share that one copy.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
