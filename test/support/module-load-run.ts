import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { png } from '../fixtures/images.ts';
import { NODE, start, type Started } from './process.ts';
import { resultOf, uploadPhoto } from './upload-client.ts';

/**
 * Starts `src/main.ts` with the module-load recorder (module-loads.ts), uploads a photo, stops it: the lines the
 * recorder wrote (`module-load <url>` for each module loaded). `running` collects the process for afterAll.
 */
export async function modulesLoadedByAnUpload(env: Record<string, string>, running: Started[]): Promise<string> {
  const loads = join(await mkdtemp(join(tmpdir(), 'module-loads-')), 'loads.txt');
  const app = start(NODE, ['--import', './test/support/module-loads.ts', 'src/main.ts'], {
    env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', MODULE_LOADS_FILE: loads, ...env },
  });
  running.push(app);
  const url = (await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+?\/graphql)/))[1]!;
  expect(resultOf(await uploadPhoto(url, { file: png(32, 32) })).__typename).toBe('UploadRecordPhotoSuccess');
  expect(await app.stop('SIGTERM')).toBe(0);
  return readFile(loads, 'utf8');
}
