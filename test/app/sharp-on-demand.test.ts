// sharp (libvips, tens of MiB resident once loaded) is loaded on the first photo the gateway scales down, never at
// start-up or for photos it forwards as they are: a gateway that never resizes pays nothing for it.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jpeg, png } from '../fixtures/images.ts';
import { NODE, start, type Started } from '../support/process.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

const SHARP = /module-load \S*\/(sharp|@img)\//;

describe('sharp is loaded on demand', () => {
  const running: Started[] = [];
  afterAll(async () => {
    await Promise.all(running.map((app) => app.stop()));
  });

  /** Starts `src/main.ts` with PHOTO_FIT_TO_LIMITS=true, uploads `files`, stops it: the package modules it loaded. */
  async function loadsAfter(files: Uint8Array[]): Promise<string> {
    const loads = join(await mkdtemp(join(tmpdir(), 'module-loads-')), 'loads.txt');
    const app = start(NODE, ['--import', './test/support/module-loads.ts', 'src/main.ts'], {
      env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', GRAPHIQL: 'false', LOG_FORMAT: 'json', PHOTO_FIT_TO_LIMITS: 'true', MODULE_LOADS_FILE: loads },
    });
    running.push(app);
    const url = (await app.waitFor(/(http:\/\/\S+?\/graphql)/))[1]!;
    for (const file of files) expect(resultOf(await uploadPhoto(url, { file })).__typename).toBe('UploadRecordPhotoSuccess');
    expect(await app.stop('SIGTERM')).toBe(0);
    return readFile(loads, 'utf8');
  }

  it('not for photos within the limits, a JPEG included (its location filter needs no decoder)', async () => {
    const loads = await loadsAfter([png(32, 32), jpeg(640, 480)]);
    expect(loads).toMatch(/module-load \S*\/graphql-yoga\//); // the recorder ran
    expect(loads).not.toMatch(SHARP);
  });

  it('(control: a photo over the pixel limit, scaled down, loads it)', async () => {
    expect(await loadsAfter([jpeg(4000, 2600)])).toMatch(SHARP);
  });
});
