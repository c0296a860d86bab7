import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN } from '../../emulator/accounts.ts';
import { png } from '../fixtures/images.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { launchChromium } from './support/browser.ts';
import { buildPage, type PageBundle } from './support/page-bundle.ts';
import { serveStatic, type StaticServer } from './support/static-server.ts';
import { writeTempFile, type TempFile } from './support/temp-files.ts';

// A web app on its own origin uploads a photo in service mode, then shows it in a plain <img> from the signed url
// the upload's `record { photo { url } }` put in Apollo's cache: the browser loads it with no header at all.

const API_KEY = 'browser-app-key-0123456789';
const photo = png(320, 240);
let bundle: PageBundle;
let app: StaticServer;
let stack: Stack;
let browser: Browser;
let file: TempFile;
beforeAll(async () => {
  bundle = await buildPage();
  app = await serveStatic(bundle.dir);
  stack = await startStack({
    CORS_ORIGINS: app.origin,
    ZOHO_CLIENT_ID: EMULATOR_CLIENT_ID,
    ZOHO_CLIENT_SECRET: EMULATOR_CLIENT_SECRET,
    ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
    GATEWAY_API_KEYS: API_KEY,
    PHOTO_URL_SECRET: 'browser-photo-link-secret-0123456789',
  });
  browser = await launchChromium();
  file = await writeTempFile('storefront.png', photo);
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await app?.close();
  await bundle?.dispose();
  await file?.dispose();
});

let page: Page;
beforeEach(async () => {
  page = await browser.newPage();
  page.setDefaultTimeout(10_000);
});
afterEach(async () => {
  await page.close();
});

describe('Chromium, service mode with signed photo links', () => {
  it('renders the uploaded photo in an <img> from the signed url, which needs no header', async () => {
    const photoRequests: Request[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/photos/')) photoRequests.push(request);
    });
    await page.goto(`${app.origin}/index.html?${new URLSearchParams({ gateway: stack.url, apiKey: API_KEY })}`);
    await page.locator('#result[data-state="ready"]').waitFor({ state: 'attached' });
    await page.locator('input[type="file"]').setInputFiles(file.path);
    await page.getByRole('button', { name: 'Upload photo' }).click();
    await page.locator('#result[data-state="done"]').waitFor({ state: 'attached' });
    expect(await page.locator('#result').textContent()).toBe(`UploadRecordPhotoSuccess 320×240 PNG ${photo.length} bytes`);

    const image = page.locator('#photo[data-state="loaded"]');
    await image.waitFor({ state: 'visible' });
    expect(await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([320, 240]);

    // one request for the image, to the signed link, with neither a token nor a key
    expect(photoRequests).toHaveLength(1);
    const url = new URL(photoRequests[0]!.url());
    expect(url.origin).toBe(new URL(stack.url).origin);
    expect(url.pathname).toBe('/photos/Leads/1000000000001');
    expect([...url.searchParams.keys()]).toEqual(['v', 'exp', 'sig']);
    const headers = await photoRequests[0]!.allHeaders();
    expect(headers['authorization']).toBeUndefined();
    expect(headers['x-api-key']).toBeUndefined();
    const response = await photoRequests[0]!.response();
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toBe('image/png');
  });

  it('a link with its signature changed does not load', async () => {
    await page.goto(`${app.origin}/index.html`);
    const link = await signedLink(); // the photo the test before uploaded
    const tampered = link.replace(/sig=(.)/, (_all, first: string) => `sig=${first === 'A' ? 'B' : 'A'}`);
    const outcome = await page.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      return new Promise<string>((resolve) => {
        img.onload = () => resolve(`loaded ${img.naturalWidth}`);
        img.onerror = () => resolve('error');
      });
    }, tampered);
    expect(outcome).toBe('error');
    const direct = await fetch(tampered);
    expect(direct.status).toBe(403);
    expect(await direct.json()).toMatchObject({ code: 'PHOTO_LINK_INVALID' });
  });
});

/** The signed url of record 1000000000001's photo, absolute, as the gateway gives it. */
async function signedLink(): Promise<string> {
  const response = await fetch(stack.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ query: '{ crmRecord(module: LEADS, id: "1000000000001") { photo { url } } }' }),
  });
  const body = (await response.json()) as { data: { crmRecord: { photo: { url: string } | null } | null } };
  const url = body.data.crmRecord?.photo?.url;
  if (!url) throw new Error(`no photo url: ${JSON.stringify(body)}`);
  return new URL(url, stack.url).href;
}
