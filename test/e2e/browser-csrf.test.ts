import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { launchChromium } from './support/browser.ts';
import { buildPage, type PageBundle } from './support/page-bundle.ts';
import { serveStatic, type StaticServer } from './support/static-server.ts';
import { writeTempFile, type TempFile } from './support/temp-files.ts';

// A hostile page posts a plain HTML multipart form to the gateway: a simple request, sent with no preflight.

let bundle: PageBundle;
let hostile: StaticServer;
let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let file: TempFile;
beforeAll(async () => {
  bundle = await buildPage();
  hostile = await serveStatic(bundle.dir);
  stack = await startStack({ CORS_ORIGINS: 'https://app.example.test' });
  browser = await launchChromium();
  // As if the browser held credentials it sends on its own (cookies, HTTP auth): then only the CSRF check
  // stands between this form and the CRM. A form cannot set headers itself.
  context = await browser.newContext({ extraHTTPHeaders: { authorization: 'Zoho-oauthtoken emulator-token' } });
  file = await writeTempFile('prize.png', png(64, 64));
});
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.close();
  await hostile?.close();
  await bundle?.dispose();
  await file?.dispose();
});

/** Opens the hostile page in a fresh tab of `browserContext`, picks the file, submits; returns the gateway's answer. */
async function submitForm(browserContext: BrowserContext) {
  const page = await browserContext.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${hostile.origin}/csrf-form.html?${new URLSearchParams({ gateway: stack.url })}`);
  await page.locator('input[name="0"]').setInputFiles(file.path);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === stack.url && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Claim prize' }).click(),
  ]);
  return { page, response, sent: await response.request().allHeaders(), body: (await response.json()) as Record<string, any> };
}

describe('CSRF: a plain HTML form from another site', () => {
  it('is answered 403 CSRF_PREVENTED, and nothing reaches the CRM', async () => {
    await stack.crm.reset();
    const { page, response, sent, body } = await submitForm(context);
    try {
      // what the browser sent: a multipart form with the credentials but no preflight-forcing header
      expect(sent['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      expect(sent['authorization']).toBe('Zoho-oauthtoken emulator-token');
      expect(sent['origin']).toBe(hostile.origin);
      expect(sent['apollo-require-preflight']).toBeUndefined();

      expect(response.status()).toBe(403);
      expect(body.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code)).toEqual(['CSRF_PREVENTED']);
      // the user is left looking at the refusal, in the tab the form navigated
      expect(await page.locator('body').textContent()).toContain('CSRF_PREVENTED');

      expect(await stack.crm.requests()).toEqual([]);
      expect(await stack.crm.photo('Leads', '1000000000001')).toBeNull();
    } finally {
      await page.close();
    }
  });

  it('control: the same form with a preflight-forcing header (which no form can add) would have uploaded', async () => {
    await stack.crm.reset();
    const withHeader = await browser.newContext({
      extraHTTPHeaders: { authorization: 'Zoho-oauthtoken emulator-token', 'apollo-require-preflight': 'true' },
    });
    try {
      const { response, body } = await submitForm(withHeader);
      expect(response.status()).toBe(200);
      expect(body).toEqual({ data: { uploadRecordPhoto: { __typename: 'UploadRecordPhotoSuccess' } } });
      expect((await stack.crm.photo('Leads', '1000000000001'))?.bytes.equals(Buffer.from(png(64, 64)))).toBe(true);
    } finally {
      await withHeader.close();
    }
  });
});
