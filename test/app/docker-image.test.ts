import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { png } from '../fixtures/images.ts';
import { phoneJpeg, photoResultOf, uploadPhonePhoto } from '../support/phone-photos.ts';
import { NODE, PROJECT_ROOT, start, type Started } from '../support/process.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// No container engine runs here, so this replays the Dockerfile's steps in a fresh folder:
// a production install, the compiled app, started and health-checked the way the image does it.

const run = promisify(execFile);
let dir: string;
let app: Started;
let url: string;
let crm: CrmEmulator;
let imageCmd: { args: string[]; env: Record<string, string> };
let dockerfile: string;

beforeAll(async () => {
  dockerfile = await readFile(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^FROM node:24[\w.-]* AS build$/m);
  expect(dockerfile).toMatch(/^FROM node:24[\w.-]* AS runtime$/m);
  expect(dockerfile).toContain('RUN npm ci --omit=dev');
  expect(dockerfile).toMatch(/^USER node$/m);
  expect(dockerfile).toMatch(/^EXPOSE 4000$/m);
  expect(dockerfile).toMatch(/^EXPOSE 9464$/m);
  expect(dockerfile).toContain('CMD ["node", "dist/healthcheck.js"]');
  expect(dockerfile).toContain('CMD ["node", "dist/main.js"]');

  dir = await mkdtemp(join(tmpdir(), 'image-'));
  for (const file of ['package.json', 'package-lock.json']) await cp(join(PROJECT_ROOT, file), join(dir, file));
  const npmEnv = { ...process.env, npm_config_update_notifier: 'false' };
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: npmEnv });
  // `RUN npm run build` in the build stage: the compiled gateway, and GraphiQL's assets bundled beside it.
  expect(dockerfile).toContain('RUN npm run build');
  const buildScript = (JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: { build: string } }).scripts.build;
  // (the type check, `tsc -p tsconfig.build.json`, is npm run typecheck's too: not replayed here)
  expect(buildScript).toBe('tsc -p tsconfig.build.json && node src/server-build.ts dist && node src/http/graphiql-build.ts dist/graphiql-assets');
  await run(NODE, [join(PROJECT_ROOT, 'src/server-build.ts'), join(dir, 'dist')]);
  await run(NODE, [join(PROJECT_ROOT, 'src/http/graphiql-build.ts'), join(dir, 'dist', 'graphiql-assets')]);

  // started the way the image starts it: its CMD, with its ENV
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  expect(cmd[0]).toBe('node');
  const nodeOptions = /NODE_OPTIONS=(\S+)/.exec(dockerfile)?.[1];
  expect(nodeOptions).toBe('--max-semi-space-size=2');
  imageCmd = { args: cmd.slice(1), env: { NODE_ENV: 'production', GRAPHIQL: 'false', NODE_OPTIONS: nodeOptions!, PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0' } };
  // Production needs a real CRM: here the emulator, run from the source tree by the test, stands in for it.
  crm = await startCrmEmulator();
  app = start(NODE, imageCmd.args, { cwd: dir, env: { ...imageCmd.env, ZOHO_API_DOMAIN: crm.origin } });
  url = (await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
}, 180_000);

afterAll(async () => {
  await app?.stop();
  await crm?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('has no dev dependencies in the runtime install', async () => {
  await expect(run(NODE, ['-e', "import('vitest')"], { cwd: dir })).rejects.toThrow();
  await expect(run(NODE, ['-e', "import('graphql-yoga')"], { cwd: dir })).resolves.toBeDefined();
});

it('holds the gateway only: no emulator in the compiled app', async () => {
  const entries = await readdir(join(dir, 'dist'), { recursive: true });
  expect(entries).toContain('main.js');
  expect(entries.filter((entry) => /emulator/i.test(entry) && !entry.startsWith('embedded-crm'))).toEqual([]);
});

it('refuses to start in production without a CRM, naming both variables', async () => {
  const bare = start(NODE, imageCmd.args, { cwd: dir, env: imageCmd.env });
  expect(await bare.exited()).toBe(1);
  expect(bare.output()).toMatch(/ZOHO_DC or ZOHO_API_DOMAIN must be set in production/);
  expect(bare.output()).not.toMatch(/GraphQL(?: and GraphiQL)? at/);
});

it('says GraphiQL is off, as the image sets it', () => {
  expect(app.output()).toMatch(/Record-photo gateway: GraphQL at http:\/\/\S+\/graphql \(GraphiQL off: GRAPHIQL=false\)/);
});

it('runs from its bundle: an upload through the compiled app loads no module from node_modules', async () => {
  // Node resolves, reads and links each file on its own: from ~900 package files, the gateway took twice as long to
  // answer its first /health (bench/FINDINGS.md). sharp (resizes only) and the optional features' packages stay outside
  // (with METRICS_PORT set, prom-client loads @opentelemetry/api from there, as tracing does).
  const loads = join(dir, 'loads.txt');
  const recorded = start(NODE, ['--import', join(PROJECT_ROOT, 'test/support/module-loads.ts'), ...imageCmd.args], {
    cwd: dir,
    env: { ...imageCmd.env, ZOHO_API_DOMAIN: crm.origin, MODULE_LOADS_FILE: loads },
  });
  try {
    const recordedUrl = (await recorded.waitFor(/GraphQL at (http:\/\/\S+\/graphql)/))[1]!;
    expect(resultOf(await uploadPhoto(recordedUrl, { file: png(30, 20) })).__typename).toBe('UploadRecordPhotoSuccess');
  } finally {
    expect(await recorded.stop('SIGTERM')).toBe(0);
  }
  const lines = (await readFile(loads, 'utf8')).split('\n').filter((line) => line.startsWith('module-load '));
  expect(lines).toEqual([]);
});

it('answers an upload from the compiled app', async () => {
  const result = resultOf(await uploadPhoto(url, { file: png(30, 20) }));
  expect(result).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { width: 30, height: 20 } });
});

it('scales a 12 MP phone photo down with the sharp of its runtime install (loaded from node_modules, not bundled)', async () => {
  const result = photoResultOf(await uploadPhonePhoto(url, await phoneJpeg(4032, 3024), { fitToLimits: true }));
  expect(result.photo).toMatchObject({ resized: true, originalWidth: 4032, originalHeight: 3024, format: 'JPEG' });
  expect(Number(result.photo!.width) * Number(result.photo!.height)).toBeLessThanOrEqual(10_000_000);
});

it('passes its HEALTHCHECK command', async () => {
  const port = new URL(url).port;
  await expect(run(NODE, ['dist/healthcheck.js'], { cwd: dir, env: { PORT: port } })).resolves.toBeDefined();
});

it('passes its HEALTHCHECK command whatever HOST the gateway listens on', async () => {
  const port = new URL(url).port;
  // The image's gateway listens on 127.0.0.1 here; HOST=0.0.0.0 and HOST=127.0.0.1 must both find it.
  for (const host of ['0.0.0.0', '127.0.0.1', '']) {
    await expect(run(NODE, ['dist/healthcheck.js'], { cwd: dir, env: { PORT: port, HOST: host } })).resolves.toBeDefined();
  }
  expect(dockerfile).toMatch(/^ENV .*GRAPHIQL=false/m);
});

it('fails its HEALTHCHECK command when nothing answers', async () => {
  await expect(run(NODE, ['dist/healthcheck.js'], { cwd: dir, env: { PORT: '1' } })).rejects.toMatchObject({ code: 1 });
});

it('serves GraphiQL from the assets built beside it, with no bundler in the runtime install', async () => {
  await expect(run(NODE, ['-e', "import('esbuild')"], { cwd: dir })).rejects.toThrow();
  const withGraphiQL = start(NODE, imageCmd.args, { cwd: dir, env: { ...imageCmd.env, GRAPHIQL: 'true', ZOHO_API_DOMAIN: crm.origin } });
  try {
    const graphiqlUrl = (await withGraphiQL.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
    const page = await fetch(graphiqlUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    const assets = [...html.matchAll(/graphiql\/assets\/[\w.-]+/g)].map((m) => new URL(m[0], graphiqlUrl).toString());
    expect(assets.length).toBe(5);
    for (const asset of assets) expect((await fetch(asset)).status, asset).toBe(200);
  } finally {
    await withGraphiQL.stop();
  }
});

it('without its GraphiQL assets, GRAPHIQL=true answers 503 for the page and says why in the log; GraphQL still serves', async () => {
  const assets = join(dir, 'dist', 'graphiql-assets');
  await rename(assets, `${assets}.aside`);
  const bare = start(NODE, imageCmd.args, { cwd: dir, env: { ...imageCmd.env, GRAPHIQL: 'true', ZOHO_API_DOMAIN: crm.origin } });
  try {
    const graphiqlUrl = (await bare.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
    const page = await fetch(graphiqlUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(503);
    expect(await page.text()).toBe('GraphiQL is unavailable on this server: see its log.');
    await bare.waitFor(/GraphiQL cannot be served: this build has no GraphiQL assets/);
    expect(bare.output()).not.toMatch(/\n\s+at /);
    const query = await fetch(graphiqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
  } finally {
    await bare.stop();
    await rename(`${assets}.aside`, assets);
  }
});
