import { fileURLToPath } from 'node:url';
import { cachedGraphiQL } from '../../src/http/graphiql-build.ts';

// vitest's globalSetup: GraphiQL's assets built once (or found in the cache) before any test file runs, so no
// test waits on the bundler at its first GraphiQL page, and parallel test files do not each build them.
export default async function setup(): Promise<void> {
  await cachedGraphiQL(fileURLToPath(new URL('../../node_modules/.cache/graphiql-assets/', import.meta.url)));
}
