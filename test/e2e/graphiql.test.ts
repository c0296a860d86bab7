import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/process.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { isLocalUrl, launchChromium } from './support/browser.ts';

// GraphiQL from the gateway, in a Chromium that can reach nothing but this machine.

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
/** Every URL the page asked for that is not on this machine: each was aborted. */
let blocked: string[];
/** Every URL the page asked for. */
let requested: string[];

beforeAll(async () => {
  stack = await startStack();
  // No name resolves except loopback, so nothing can leave the machine even past the route below.
  browser = await launchChromium(['--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']);
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    requested.push(url);
    if (isLocalUrl(url)) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.close();
});
beforeEach(() => {
  blocked = [];
  requested = [];
});

describe('GraphiQL, offline', () => {
  it('the network guard catches an external asset (so an empty list below means something)', async () => {
    const page = await context.newPage();
    try {
      await page.setContent('<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Fira+Code">');
      expect(blocked).toEqual(['https://fonts.googleapis.com/css2?family=Fira+Code']);
    } finally {
      await page.close();
    }
  });

  it('renders from the gateway alone and runs a typed query', async () => {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    // How each GraphiQL asset came over the wire.
    const assets: { url: string; encoding: string | undefined; cacheControl: string | undefined }[] = [];
    page.on('response', (response) => {
      if (!response.url().includes('/graphiql/assets/')) return;
      const headers = response.headers();
      assets.push({ url: response.url(), encoding: headers['content-encoding'], cacheControl: headers['cache-control'] });
    });
    try {
      const response = await page.goto(stack.url);
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('CRM record photos');

      const editor = page.locator('.graphiql-query-editor .monaco-editor');
      await editor.waitFor();
      await editor.click();
      await page.keyboard.press('Control+A');
      await page.keyboard.press('Delete');
      await page.keyboard.insertText('query ServiceSdl { _service { sdl } }');
      // GraphiQL names the tab after the operation once it has parsed the edit; run only then
      await page.getByRole('tab', { name: 'ServiceSdl', selected: true }).waitFor();
      await page.getByRole('button', { name: /^Execute query/ }).click();

      const result = page.locator('.graphiql-response .view-lines');
      await expect.poll(async () => (await result.textContent())?.replace(/\s/g, '') ?? '', { timeout: 10_000 }).toContain(
        '{"data":{"_service":{"sdl":"extendschema\\n@link(url:\\"https://specs.apollo.dev/federation/v2.',
      );
      await mkdir(join(PROJECT_ROOT, 'test-results'), { recursive: true });
      await page.screenshot({ path: join(PROJECT_ROOT, 'test-results', 'graphiql.png') });

      expect(blocked).toEqual([]);
      // every asset came from the gateway itself (or was inline)
      const fetched = requested.filter((url) => !url.startsWith('data:') && !url.startsWith('blob:'));
      expect(fetched.filter((url) => new URL(url).origin !== new URL(stack.url).origin)).toEqual([]);
      expect(fetched).toContain(stack.url);
      expect(pageErrors).toEqual([]);
      // The stylesheet, the script (GraphiQL with the upload panel) and Monaco's three workers: brotli, kept a year.
      // Monaco starts its workers lazily, some after the first result is on screen: wait for them, not for a moment.
      const kinds = () => [...new Set(assets.map((asset) => new URL(asset.url).pathname.split('/').pop()!.replace(/\.[A-Z0-9]{8}\./, '.')))].sort();
      await expect
        .poll(kinds, { timeout: 15_000, message: 'GraphiQL assets fetched' })
        .toEqual(expect.arrayContaining(['editor.worker.js', 'graphiql.css', 'graphiql.js', 'graphql.worker.js', 'json.worker.js']));
      for (const asset of assets) {
        expect(asset, asset.url).toMatchObject({ encoding: 'br', cacheControl: 'public, max-age=31536000, immutable' });
      }
    } finally {
      await page.close();
    }
  });
});
