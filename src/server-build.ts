import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// `npm run build`'s server step: the gateway as one ES-module bundle (plus the chunks it loads only when asked: metrics,
// tracing, the Redis-shared budget), instead of the ~900 files its packages are made of. Node's module loader spends
// most of a start resolving, reading and linking files one by one: from a bundle the gateway answers /health in about
// half the time and idles in less memory (bench/FINDINGS.md, start-up and idle). tsc still checks the types first.

/** Loaded from node_modules at run time, never bundled: native code, packages that load files of their own, and the
 * ones only an optional feature reaches (each behind a dynamic import). */
const EXTERNAL = [
  'sharp', // native libvips, for photos scaled down to fit
  'pino-pretty', // a person at a terminal only
  'ioredis',
  'redis-semaphore',
  '@opentelemetry/*',
  'esbuild', // the source tree's GraphiQL build; dist/ has its assets prebuilt
];

/** What a build writes into its folder: the entries, the chunks, their source maps and legal notices. */
const BUILT_FILE = /\.(js|js\.map|js\.LEGAL\.txt)$/;

const ENTRIES = ['main.ts', 'healthcheck.ts'].map((name) => fileURLToPath(new URL(name, import.meta.url)));

/** Builds into `outdir`; answers the files that went into the bundle, relative to the project. */
export async function buildServer(outdir: string): Promise<string[]> {
  // The previous build's chunks go (their names carry content hashes): only files this step writes, nothing else.
  for (const entry of await readdir(outdir).catch(() => [])) {
    if (BUILT_FILE.test(entry)) await rm(join(outdir, entry), { force: true });
  }
  const result = await build({
    entryPoints: ENTRIES,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    external: EXTERNAL,
    // Bundled CommonJS packages require Node's built-ins: give each ES-module chunk a `require` of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    // Not minified: names and lines stay readable in a stack trace (minifying gained no start-up time, FINDINGS.md).
    metafile: true,
  });
  return Object.keys(result.metafile.inputs);
}

// `node src/server-build.ts <directory>`: what `npm run build` runs.
if (import.meta.main) {
  const directory = process.argv[2];
  if (!directory) throw new Error('usage: server-build.ts <output directory>');
  await buildServer(directory);
}
