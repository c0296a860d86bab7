import { defineConfig } from 'vitest/config';
import base, { STRESS_TESTS } from './vitest.config.ts';

// Long runs that `npm test` leaves out (STRESS_TESTS): the soak, the hostile multipart corpus, the Dockerfile
// replayed and exhaustive replays. Same resolution and timeouts as the unit suite (one graphql copy); one file at a
// time, so the soak's and the corpus's memory and timing figures are their own gateway's, not shared with another
// file's load.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: STRESS_TESTS,
    exclude: [],
    fileParallelism: false,
    isolate: true,
  },
});
