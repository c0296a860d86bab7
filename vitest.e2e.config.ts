import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// End-to-end proofs: real clients (Apollo Client, a Hive Gateway router, Chromium) against the real stack.
// Same resolution as the unit suite (one graphql copy); only which files run and their timeouts differ.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/e2e/**/*.test.ts'],
    exclude: [],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: undefined,
    isolate: true,
  },
});
