import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE, PROJECT_ROOT, start, type Started } from '../support/process.ts';

const run = promisify(execFile);

describe('npm start on a fresh clone', () => {
  let app: Started;
  let url: string;
  beforeAll(async () => {
    // What a person at a terminal sees (a terminal gets the pretty format by default).
    app = start(NODE, ['src/main.ts'], { env: { PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'pretty', METRICS_PORT: '0' } });
    url = (await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
    await app.waitFor(/-F 0=@emulator\/sample-photo\.png/);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('prints the URL, the demo token and a curl upload that works as pasted in the project folder', async () => {
    expect(app.output()).toContain('Demo token: emulator-token');
    const output = app.output();
    const curl = output.slice(output.indexOf('curl '), output.indexOf('sample-photo.png', output.indexOf('curl ')) + 'sample-photo.png'.length);
    const sample = await readFile(join(PROJECT_ROOT, 'emulator', 'sample-photo.png'));
    const { stdout } = await run('bash', ['-c', curl], { cwd: PROJECT_ROOT });
    expect(JSON.parse(stdout)).toEqual({
      data: {
        uploadRecordPhoto: {
          __typename: 'UploadRecordPhotoSuccess',
          message: 'photo uploaded successfully',
          photo: { filename: 'sample-photo.png', format: 'PNG', width: 320, height: 240, byteSize: sample.length },
        },
      },
    });
  });

  it('serves GraphiQL to a browser at /graphql', async () => {
    const response = await fetch(url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/GraphiQL/i);
  });

  it('answers its health check', async () => {
    expect((await fetch(new URL('/health', url))).status).toBe(200);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    expect(await app.stop('SIGTERM')).toBe(0);
  });
});

describe('service mode on the emulator', () => {
  it('says which CRM it serves and offers no demo token (it would not work there)', async () => {
    const app = start(NODE, ['src/main.ts'], {
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        METRICS_PORT: '0',
        ZOHO_CLIENT_ID: 'emulator-client',
        ZOHO_CLIENT_SECRET: 'emulator-secret',
        ZOHO_REFRESH_TOKEN: 'emulator-refresh-token',
        GATEWAY_API_KEYS: 'try-it-locally-0123456789',
      },
    });
    try {
      await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/);
      expect(app.output()).toMatch(/"level":"warn".*serving the embedded CRM emulator/);
      expect(app.output()).toContain('Credentials: service mode');
      expect(app.output()).not.toContain('Demo token');
      expect(app.output()).not.toContain('emulator-token');
    } finally {
      await app.stop();
    }
  });
});

describe('start-up refuses bad configuration', () => {
  it.each([
    [{ PORT: 'abc' }, /Configuration error: PORT must be a whole number from 0 to 65535, got 'abc'/],
    [{ CRM_CUSTOM_MODULES: 'Vehicles,vehicles' }, /Configuration error: CRM_CUSTOM_MODULES is invalid: 'vehicles' and 'Vehicles'/],
    [{ ZOHO_API_DOMAIN: 'not a url' }, /Configuration error: ZOHO_API_DOMAIN must be an origin/],
  ])('%j', async (env, message) => {
    const app = start(NODE, ['src/main.ts'], { env: { PORT: '0', ...env } });
    await app.waitFor(message);
    expect(await app.exited()).toBe(1);
  });
});
