import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { compress } from './compression.ts';
import { readBundle, writeBundle, type GraphiQLBundle } from './graphiql-bundle.ts';

// GraphiQL's page assets, bundled from the graphiql packages (React, Monaco and its workers) and graphiql-app/ with
// esbuild. `npm run build` writes them beside the compiled gateway (dist/graphiql-assets/), which serves them as
// they are and never loads this file; from the source tree (`npm start`) the gateway builds them on first use and
// keeps them in node_modules/.cache, keyed by what went in, so only the first GraphiQL visit on a machine waits.

const APP = fileURLToPath(new URL('./graphiql-app/', import.meta.url));
const LOCKFILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
const SOURCES = [join(APP, 'app.tsx'), join(APP, 'uploads.ts'), fileURLToPath(import.meta.url), fileURLToPath(new URL('./compression.ts', import.meta.url)), LOCKFILE];
const require = createRequire(import.meta.url);

const ENTRIES = {
  graphiql: join(APP, 'app.tsx'),
  'editor.worker': require.resolve('monaco-editor/esm/vs/editor/editor.worker.js'),
  'json.worker': require.resolve('monaco-editor/esm/vs/language/json/json.worker.js'),
  'graphql.worker': require.resolve('monaco-graphql/esm/graphql.worker.js'),
};

/** What the bundle is made of: the sources, and the lockfile for every package's version. */
async function inputsKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of SOURCES) hash.update(await readFile(file));
  return hash.digest('hex').slice(0, 16);
}

export async function buildGraphiQL(): Promise<GraphiQLBundle> {
  const result = await build({
    entryPoints: ENTRIES,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    outdir: '/graphiql-assets',
    entryNames: '[name].[hash]',
    assetNames: '[name].[hash]',
    loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
  });
  // Compressed here, once: a gateway serves these bytes as they are, with no work on a first visit.
  const assets = await Promise.all(
    result.outputFiles
      .filter((file) => !file.path.endsWith('.map'))
      .map(async (file) => ({
        name: basename(file.path),
        bytes: file.contents,
        br: await compress(file.contents, 'br', 'small'),
        gzip: await compress(file.contents, 'gzip', 'small'),
      })),
  );
  const named = (prefix: string, extension: string) => {
    const found = assets.find((asset) => asset.name.startsWith(`${prefix}.`) && asset.name.endsWith(extension));
    if (!found) throw new Error(`GraphiQL build: no ${prefix}*${extension} in the output`);
    return found.name;
  };
  return {
    script: named('graphiql', '.js'),
    stylesheet: named('graphiql', '.css'),
    workers: { editorWorkerService: named('editor.worker', '.js'), json: named('json.worker', '.js'), graphql: named('graphql.worker', '.js') },
    assets,
  };
}

/** From the source tree: the cached bundle for these inputs, or a new one (about 10 s), cached for next time. */
export async function cachedGraphiQL(cacheRoot: string): Promise<GraphiQLBundle> {
  const directory = join(cacheRoot, await inputsKey());
  const cached = await readBundle(directory);
  if (cached) return cached;
  const bundle = await buildGraphiQL();
  await writeBundle(bundle, directory, { replace: false });
  // Bundles of earlier inputs are of no more use.
  const key = basename(directory);
  for (const entry of await readdir(cacheRoot)) {
    if (/^[0-9a-f]{16}$/.test(entry) && entry !== key) await rm(join(cacheRoot, entry), { recursive: true, force: true });
  }
  return bundle;
}

// `node src/http/graphiql-build.ts <directory>`: what `npm run build` runs.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const directory = process.argv[2];
  if (!directory) throw new Error('usage: graphiql-build.ts <output directory>');
  await writeBundle(await buildGraphiQL(), directory, { replace: true });
}
