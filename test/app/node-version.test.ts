import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server-build.ts';
import { NODE, PROJECT_ROOT } from '../support/process.ts';

// A newcomer's `node dist/main.js` (or `node src/main.ts`) on a Node older than 24 stops at once with a message
// that says so, instead of a stack trace from deep inside a dependency.

const run = promisify(execFile);
const MESSAGE = /^The CRM record-photo gateway needs Node 24 or later; this is Node (\S+)\.\nRun it with `npm start`/;

/** A preload that makes this Node report an older version, for the Node 24 the project runs on. */
const AS_NODE_22 = `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'22.11.0'})`;

async function exitOf(command: string, args: string[], cwd = PROJECT_ROOT) {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, env: { PATH: process.env.PATH ?? '', PORT: '0' }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('an older Node', () => {
  let dist: string;
  beforeAll(async () => {
    // dist/ as `npm run build` bundles it, in a folder with no node_modules: were anything past the check loaded, the
    // gateway's chunk would fail deep in a dependency (or on a missing package) instead of printing the message.
    dist = await mkdtemp(join(tmpdir(), 'node-version-'));
    await writeFile(join(dist, 'package.json'), JSON.stringify({ type: 'module' }));
    await buildServer(join(dist, 'dist'));
  }, 60_000);
  afterAll(async () => {
    if (dist) await rm(dist, { recursive: true, force: true });
  });

  it('the machine’s own Node on the compiled entry point: the message, exit 1, nothing else loaded', async () => {
    // The Node this machine ships (not the project's): on these machines an older one, 20.
    const which = await run('bash', ['-c', 'which -a node | grep -v node_modules | head -1']);
    const systemNode = which.stdout.trim();
    expect(systemNode).not.toBe('');
    const { stdout: version } = await run(systemNode, ['-p', 'process.versions.node']);
    const older = Number(version.split('.')[0]) < 24;
    const result = await exitOf(systemNode, [...(older ? [] : ['--import', AS_NODE_22]), join(dist, 'dist', 'main.js')], dist);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(MESSAGE);
    expect(MESSAGE.exec(result.stderr)?.[1]).toBe(older ? version.trim() : '22.11.0');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('src/main.ts on a Node that can run it but is too old: the same message, before the gateway starts', async () => {
    const result = await exitOf(NODE, ['--import', AS_NODE_22, 'src/main.ts']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(MESSAGE);
    expect(MESSAGE.exec(result.stderr)?.[1]).toBe('22.11.0');
    expect(result.stdout).not.toMatch(/GraphQL(?: and GraphiQL)? at/);
  });

  it('the project’s own Node passes the check', async () => {
    const result = await exitOf(NODE, ['--input-type=module', '-e', `await import(${JSON.stringify(join(PROJECT_ROOT, 'src/node-version.ts'))}); console.log('ok')`]);
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n', stderr: '' });
  });
});
