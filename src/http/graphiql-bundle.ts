import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// GraphiQL's built page assets as files: a folder of them with a manifest naming each one's role. Written by
// graphiql-build.ts; read by graphiql.ts, from dist/graphiql-assets/ in a build or from the source tree's cache.

export interface BuiltAsset {
  /** The file name, with esbuild's content hash in it: a new name whenever the bytes change. */
  name: string;
  bytes: Uint8Array;
  /** The same bytes compressed once at build time (`name.br`, `name.gz` on disk). */
  br: Uint8Array;
  gzip: Uint8Array;
}

export interface GraphiQLBundle {
  /** The page's script and stylesheet; the rest (workers, the icon font) are named by them. */
  script: string;
  stylesheet: string;
  /** Monaco's workers, by the label Monaco asks for. */
  workers: { editorWorkerService: string; json: string; graphql: string };
  assets: BuiltAsset[];
}

const MANIFEST = 'manifest.json';

/**
 * Writes the bundle into `directory`. `replace`: what is there goes (a build's output folder); otherwise a folder
 * already there is kept, since its name says it holds a bundle of the same inputs (the cache).
 */
export async function writeBundle(bundle: GraphiQLBundle, directory: string, { replace }: { replace: boolean }): Promise<void> {
  // Written beside, then moved into place: a reader never sees half a bundle, and two writers do not mix theirs.
  const staging = `${directory}.${process.pid}.${Date.now()}`;
  await mkdir(staging, { recursive: true });
  for (const asset of bundle.assets) {
    await writeFile(join(staging, asset.name), asset.bytes);
    await writeFile(join(staging, `${asset.name}.br`), asset.br);
    await writeFile(join(staging, `${asset.name}.gz`), asset.gzip);
  }
  const { assets, ...roles } = bundle;
  await writeFile(join(staging, MANIFEST), JSON.stringify({ ...roles, files: assets.map((a) => a.name) }, null, 2));
  if (replace) await rm(directory, { recursive: true, force: true });
  try {
    await rename(staging, directory);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another process put its bundle, built from the same inputs, there first.
    const code = (error as { code?: string }).code;
    if (replace || (code !== 'ENOTEMPTY' && code !== 'EEXIST')) throw error;
  }
}

/** The bundle in `directory`, or null when there is none (no manifest, or a file of it missing). */
export async function readBundle(directory: string): Promise<GraphiQLBundle | null> {
  let manifest: Omit<GraphiQLBundle, 'assets'> & { files: string[] };
  try {
    manifest = JSON.parse(await readFile(join(directory, MANIFEST), 'utf8'));
  } catch {
    return null;
  }
  try {
    return await readAssets(directory, manifest);
  } catch {
    return null;
  }
}

async function readAssets(directory: string, manifest: Omit<GraphiQLBundle, 'assets'> & { files: string[] }): Promise<GraphiQLBundle> {
  const { files, ...roles } = manifest;
  const read = async (file: string) => new Uint8Array(await readFile(join(directory, file)));
  const assets = await Promise.all(
    files.map(async (name) => ({ name, bytes: await read(name), br: await read(`${name}.br`), gzip: await read(`${name}.gz`) })),
  );
  return { ...roles, assets };
}
