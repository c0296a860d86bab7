import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempFile {
  path: string;
  dispose(): Promise<void>;
}

/** Writes bytes to a file in a fresh temp directory, for a browser's file chooser. */
export async function writeTempFile(name: string, bytes: Uint8Array): Promise<TempFile> {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-file-'));
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, dispose: () => rm(dir, { recursive: true, force: true }) };
}
