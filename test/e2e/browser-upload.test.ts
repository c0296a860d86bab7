import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { launchChromium } from './support/browser.ts';
import { buildPage, type PageBundle } from './support/page-bundle.ts';
import { serveStatic, type StaticServer } from './support/static-server.ts';
import { writeTempFile, type TempFile } from './support/temp-files.ts';

// A web app on its own origin, in Chromium, uploads a file the user picked, through Apollo Client.

const photo = png(320, 240);
let bundle: PageBundle;
let app: StaticServer;
let otherOrigin: StaticServer;
let stack: Stack;
let browser: Browser;
let file: TempFile;
beforeAll(async () => {
  bundle = await buildPage();
  app = await serveStatic(bundle.dir);
  otherOrigin = await serveStatic(bundle.dir);
  stack = await startStack({ CORS_ORIGINS: app.origin });
  browser = await launchChromium();
  file = await writeTempFile('storefront.png', photo);
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await app?.close();
  await otherOrigin?.close();
  await bundle?.dispose();
  await file?.dispose();
});

let page: Page;
beforeEach(async () => {
  await stack.crm.reset();
  page = await browser.newPage();
  page.setDefaultTimeout(10_000);
});
afterEach(async () => {
  await page.close();
});

async function submit(query: Record<string, string>, recordId = '1000000000001', origin = app.origin): Promise<{ state: string | null; text: string }> {
  await page.goto(`${origin}/index.html?${new URLSearchParams({ gateway: stack.url, ...query })}`);
  await page.locator('#result[data-state="ready"]').waitFor({ state: 'attached' });
  await page.locator('input[name="recordId"]').fill(recordId);
  await page.locator('input[type="file"]').setInputFiles(file.path);
  await page.getByRole('button', { name: 'Upload photo' }).click();
  const result = page.locator('#result:is([data-state="done"], [data-state="failed"])');
  await result.waitFor();
  return { state: await result.getAttribute('data-state'), text: (await result.textContent()) ?? '' };
}

describe('Chromium, page on an allowed origin', () => {
  it('uploads the picked image file: the page shows the success, the CRM holds the exact bytes', async () => {
    expect(app.origin).not.toBe(new URL(stack.url).origin);
    expect(await submit({ token: 'emulator-token' })).toEqual({
      state: 'done',
      text: `UploadRecordPhotoSuccess 320×240 PNG ${photo.length} bytes`,
    });
    const stored = await stack.crm.photo('Leads', '1000000000001');
    expect(stored?.bytes.equals(Buffer.from(photo))).toBe(true);
    expect(stored?.filename).toBe('storefront.png');
    // the upload, then the read of the record's new photo (the document asks for it), both with the user's token
    const requests = await stack.crm.requests();
    expect(requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/crm/v7/Leads/1000000000001/photo']);
    expect(new Set(requests.map((r) => r.authorization))).toEqual(new Set(['Zoho-oauthtoken emulator-token']));
  });

  it('shows a typed failure by its __typename and code', async () => {
    await stack.crm.lock('Leads', '1000000000002');
    expect(await submit({ token: 'emulator-token' }, '1000000000002')).toEqual({ state: 'done', text: 'RecordLockedError RECORD_LOCKED' });
    expect(await stack.crm.photo('Leads', '1000000000002')).toBeNull();
  });
});

describe('Chromium, the same page on an origin not in CORS_ORIGINS', () => {
  it('cannot read the response: the preflight gets no CORS headers, the page sees a failed fetch, and the CRM is not called', async () => {
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    const result = await submit({ token: 'emulator-token' }, '1000000000001', otherOrigin.origin);
    // Apollo Client surfaces the browser's refusal as fetch's own error; the reason only goes to the console
    expect(result).toEqual({ state: 'failed', text: 'TypeError: Failed to fetch' });
    expect(consoleErrors).toContainEqual(
      expect.stringContaining(
        `from origin '${otherOrigin.origin}' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header`,
      ),
    );
    // the browser never sent the upload itself
    expect(await stack.crm.requests()).toEqual([]);
  });
});
