import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundle, writeBundle, type GraphiQLBundle } from '../../src/http/graphiql-bundle.ts';

// GraphiQL's built assets on disk: a build's output folder is replaced, a cache folder (named by its inputs) kept.

function bundle(tag: string): GraphiQLBundle {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const asset = (name: string) => ({ name, bytes: bytes(`${name} bytes`), br: bytes(`${name} br`), gzip: bytes(`${name} gz`) });
  return {
    script: `graphiql.${tag}.js`,
    stylesheet: `graphiql.${tag}.css`,
    workers: { editorWorkerService: `editor.worker.${tag}.js`, json: `json.worker.${tag}.js`, graphql: `graphql.worker.${tag}.js` },
    assets: ['graphiql', 'editor.worker', 'json.worker', 'graphql.worker'].map((n) => asset(`${n}.${tag}.js`)).concat(asset(`graphiql.${tag}.css`)),
  };
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'graphiql-bundle-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('GraphiQL bundle folders', () => {
  it('reads back what it wrote, the compressed copies with it', async () => {
    const directory = join(root, 'round-trip');
    await writeBundle(bundle('AAAA'), directory, { replace: true });
    const read = await readBundle(directory);
    expect(read).toEqual(bundle('AAAA'));
    expect((await readdir(directory)).filter((f) => f.endsWith('.br'))).toHaveLength(5);
  });

  it('a rebuild into the same output folder replaces the old assets', async () => {
    const directory = join(root, 'dist-graphiql-assets');
    await writeBundle(bundle('OLD1'), directory, { replace: true });
    await writeBundle(bundle('NEW1'), directory, { replace: true });
    expect((await readBundle(directory))?.script).toBe('graphiql.NEW1.js');
    expect((await readdir(directory)).filter((f) => f.includes('OLD1'))).toEqual([]);
  });

  it('a cache folder already there is kept (another process built the same inputs first)', async () => {
    const directory = join(root, '0123456789abcdef');
    await writeBundle(bundle('FIRST'), directory, { replace: false });
    await writeBundle(bundle('SECOND'), directory, { replace: false });
    expect((await readBundle(directory))?.script).toBe('graphiql.FIRST.js');
    // and no staging folder is left behind
    expect((await readdir(root)).filter((f) => f.startsWith('0123456789abcdef.'))).toEqual([]);
  });

  it('a folder with a file missing is no bundle', async () => {
    const directory = join(root, 'damaged');
    await writeBundle(bundle('DMGD'), directory, { replace: true });
    await rm(join(directory, 'graphiql.DMGD.js.br'));
    expect(await readBundle(directory)).toBeNull();
    expect(await readBundle(join(root, 'nothing-here'))).toBeNull();
  });
});
