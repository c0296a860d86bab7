import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const BROWSER_DIR = fileURLToPath(new URL('../browser/', import.meta.url));

export interface PageBundle {
  dir: string;
  dispose(): Promise<void>;
}

/**
 * The test web app, built as a frontend build would: page.ts (Apollo Client, UploadHttpLink, the typed
 * document) bundled by esbuild for the browser, next to its HTML pages, in a temp directory.
 */
export async function buildPage(): Promise<PageBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-page-'));
  try {
    await build({
      entryPoints: [join(BROWSER_DIR, 'page.ts')],
      outfile: join(dir, 'page.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
    });
    for (const html of ['index.html', 'csrf-form.html']) await copyFile(join(BROWSER_DIR, html), join(dir, html));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}
