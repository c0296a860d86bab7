import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN } from '../../emulator/accounts.ts';
import { agent, control, upload, waitFor } from './helpers.ts';

const NODE = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
const MAIN = fileURLToPath(new URL('../../emulator/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Node's on-disk compile cache (as test/support/process.ts gives every process it starts): quicker starts. */
const COMPILE_CACHE = fileURLToPath(new URL('../../node_modules/.cache/node-compile-cache', import.meta.url));

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runMain(env: Record<string, string>): Run {
  const child = spawn(NODE, [MAIN], { cwd: ROOT, env: { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE, ...env } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

describe('node emulator/main.ts', () => {
  it('serves on the port from EMULATOR_PORT, prints origin and token, and exits 0 on SIGTERM', async () => {
    const run = runMain({ EMULATOR_PORT: '0', CRM_CUSTOM_MODULES: ' Vehicles , Site_Visits,' });
    try {
      const origin = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(run.stdout())?.[1], 10_000, 'the origin');
      await waitFor(() => run.stdout().includes('Custom modules:'), 2000, 'the whole banner');
      expect(run.stdout()).toContain('Demo token: emulator-token (send "Authorization: Zoho-oauthtoken emulator-token")');
      expect(run.stdout()).toContain('Custom modules: Vehicles, Site_Visits');
      expect(run.stdout()).toContain(
        `Accounts server: POST ${origin}/oauth/v2/token, OAuth client emulator-client, refresh token emul… (EMULATOR_CLIENT_SECRET and EMULATOR_REFRESH_TOKEN in emulator/accounts.ts)`,
      );
      expect((await upload(origin, { module: 'Site_Visits' })).json).toMatchObject({ code: 'SUCCESS' });
      const log = (await control(origin, 'GET', 'requests')).json as { path: string; status: number }[];
      expect(log).toEqual([expect.objectContaining({ path: '/crm/v7/Site_Visits/1000000000001/photo', status: 200 })]);
      const minted = await request(`${origin}/oauth/v2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: EMULATOR_CLIENT_ID,
          client_secret: EMULATOR_CLIENT_SECRET,
          refresh_token: EMULATOR_REFRESH_TOKEN,
        }).toString(),
        dispatcher: agent,
      });
      const { access_token: accessToken } = (await minted.body.json()) as { access_token: string };
      expect((await upload(origin, { authorization: `Zoho-oauthtoken ${accessToken}` })).status).toBe(200);
      run.child.kill('SIGTERM');
      expect(await run.exit).toEqual({ code: 0, signal: null });
      expect(run.stderr()).toBe('');
      // Secrets stay out of the output, even after a token was minted.
      for (const secret of [EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN, accessToken]) {
        expect(run.stdout()).not.toContain(secret);
      }
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('exits 0 on SIGINT even while a request hangs', async () => {
    const run = runMain({ EMULATOR_PORT: '0' });
    try {
      const origin = await waitFor(() => /listening on (http:\/\/\S+)/.exec(run.stdout())?.[1], 10_000, 'the origin');
      await control(origin, 'POST', 'faults', { kind: 'hang' });
      const hanging = upload(origin).catch((error: unknown) => error);
      await waitFor(async () => ((await control(origin, 'GET', 'requests')).json as unknown[]).length === 1, 5000, 'the request');
      run.child.kill('SIGINT');
      expect(await run.exit).toEqual({ code: 0, signal: null });
      expect(await hanging).toBeInstanceOf(Error);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it.each(['abc', '-1', '65536', '80.5'])('refuses EMULATOR_PORT=%s with a message naming the variable', async (port) => {
    const run = runMain({ EMULATOR_PORT: port });
    expect((await run.exit).code).toBe(1);
    expect(run.stderr()).toBe(
      `EMULATOR_PORT must be an integer from 0 to 65535 (0 = any free port), got ${JSON.stringify(port)}\n`,
    );
  });

  it('refuses an invalid CRM_CUSTOM_MODULES entry with a message naming the variable', async () => {
    const run = runMain({ EMULATOR_PORT: '0', CRM_CUSTOM_MODULES: 'Vehicles,Bad-Name' });
    expect((await run.exit).code).toBe(1);
    expect(run.stderr()).toMatch(/^CRM_CUSTOM_MODULES is invalid: custom module "Bad-Name" is not a valid API name/);
  });

  it('reports a port that is already taken', async () => {
    const first = runMain({ EMULATOR_PORT: '0' });
    try {
      const origin = await waitFor(() => /listening on (http:\/\/\S+)/.exec(first.stdout())?.[1], 10_000, 'the origin');
      const port = new URL(origin).port;
      const second = runMain({ EMULATOR_PORT: port });
      expect((await second.exit).code).toBe(1);
      expect(second.stderr()).toMatch(new RegExp(`^CRM emulator could not listen on port ${port}: .*EADDRINUSE`));
    } finally {
      first.child.kill('SIGKILL');
    }
  });
});
