import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_TOKEN as DEMO_TOKEN } from '../../emulator/state.ts';
import { png } from '../fixtures/images.ts';
import { PROJECT_ROOT } from '../support/process.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { isLocalUrl, launchChromium } from './support/browser.ts';
import { writeTempFile, type TempFile } from './support/temp-files.ts';

// GraphiQL from the gateway, offline in Chromium: the first tab uploads a picked file as a multipart request.

const photo = png(320, 240);
let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let file: TempFile;
const blocked: string[] = [];

beforeAll(async () => {
  stack = await startStack({}, { graphiqlHeaders: { Authorization: `Zoho-oauthtoken ${DEMO_TOKEN}` } });
  file = await writeTempFile('storefront.png', photo);
  browser = await launchChromium(['--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']);
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocalUrl(url)) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.close();
  await file?.dispose();
});

describe('GraphiQL uploads', () => {
  it('picks a PNG for $file, runs the default upload mutation and shows UploadRecordPhotoSuccess', async () => {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    const sent: { contentType: string | null; preflight: string | null; authorization: string | null }[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.headers()['content-type']?.startsWith('multipart/form-data')) {
        const headers = request.headers();
        sent.push({
          contentType: headers['content-type'] ?? null,
          preflight: headers['apollo-require-preflight'] ?? null,
          authorization: headers['authorization'] ?? null,
        });
      }
    });
    try {
      const response = await page.goto(stack.url);
      expect(response?.status()).toBe(200);
      await page.locator('.graphiql-query-editor .monaco-editor').waitFor();
      // the first tab is the upload mutation; the second reads the record's photo
      await page.getByRole('tab', { name: 'UploadPhoto', selected: true }).waitFor();
      await page.getByRole('tab', { name: 'RecordPhoto' }).waitFor();

      const bar = page.getByRole('region', { name: 'Upload variables' });
      const picker = bar.getByLabel('$file');
      await picker.setInputFiles(file.path);
      await page.getByRole('button', { name: /^Execute query/ }).click();

      const result = page.locator('.graphiql-response .view-lines');
      const text = async () => (await result.textContent())?.replace(/\s/g, '') ?? '';
      await expect.poll(text, { timeout: 15_000 }).toContain('"__typename":"UploadRecordPhotoSuccess"');
      expect(await text()).toContain(`"byteSize":${photo.byteLength}`);
      expect(await text()).toContain('"filename":"storefront.png"');
      await mkdir(join(PROJECT_ROOT, 'test-results'), { recursive: true });
      await page.screenshot({ path: join(PROJECT_ROOT, 'test-results', 'graphiql-upload.png') });

      expect(sent).toHaveLength(1);
      expect(sent[0]?.preflight).toBe('true');
      expect(sent[0]?.authorization).toBe(`Zoho-oauthtoken ${DEMO_TOKEN}`);
      const stored = await stack.crm.photo('Leads', '1000000000001');
      expect(stored?.bytes.byteLength).toBe(photo.byteLength);
      expect(stored?.filename).toBe('storefront.png');

      // the bar follows the operation in the editor: nothing to pick in the second tab, which reads the photo back
      await page.getByRole('tab', { name: 'RecordPhoto' }).click();
      await expect.poll(() => bar.textContent()).toContain('No Upload variable in this operation');
      await page.getByRole('button', { name: /^Execute query/ }).click();
      await expect.poll(text, { timeout: 15_000 }).toContain(`"version":"${stored?.recordImage}"`);

      expect(blocked).toEqual([]);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
