import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createYoga, createSchema, type Plugin } from 'graphql-yoga';
import { negotiateEncoding, useResponseCompression } from '../../src/http/compression.ts';
import { prefersHtml } from '../../src/http/graphiql.ts';
import { png, withPadding } from '../fixtures/images.ts';
import { startStack, useStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// Compressed answers for clients that accept them, and GraphiQL as a small page plus cacheable assets.
// undici's `request` neither asks for nor undoes an encoding: every byte here is what went over the wire.

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET'): Promise<Raw> {
  const response = await request(url, { method, headers });
  const body = Buffer.from(await response.body.arrayBuffer());
  const flat = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
  return { status: response.statusCode, headers: flat, body };
}

function decoded(raw: Raw): Buffer {
  const encoding = raw.headers['content-encoding'];
  if (encoding === 'br') return brotliDecompressSync(raw.body);
  if (encoding === 'gzip') return gunzipSync(raw.body);
  expect(encoding).toBeUndefined();
  return raw.body;
}

const page = (stack: Stack, headers: Record<string, string> = {}) => get(stack.url, { accept: 'text/html', ...headers });

function assetUrls(stack: Stack, html: string): string[] {
  const names = [...html.matchAll(/graphiql\/assets\/[\w.-]+/g)].map((m) => m[0]);
  return [...new Set(names)].map((name) => new URL(name, stack.url).toString());
}

describe('Accept-Encoding negotiation', () => {
  it.each([
    [null, 'identity'],
    ['', 'identity'],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['br;q=0.5, gzip', 'gzip'],
    ['br;q=0, gzip;q=0.1', 'gzip'],
    ['BR', 'br'],
    ['*', 'br'],
    ['*;q=0.5, br;q=0', 'gzip'],
    ['deflate, identity', 'identity'],
    ['gzip;q=0, br;q=0', 'identity'],
    ['x-gzip', 'gzip'],
    ['br;q=nonsense, gzip', 'gzip'],
  ])('%j → %s', (header, expected) => {
    expect(negotiateEncoding(header)).toBe(expected);
  });
});

describe('GraphiQL for clients that prefer HTML, GraphQL for the rest', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
    ['text/html', true],
    ['text/*', true],
    ['text/html;q=0.1, application/json', false],
    ['application/json, text/html;q=0.9', false],
    ['text/html, application/json', true],
    ['text/*;q=1, text/html;q=0', false],
    ['application/graphql-response+json', false],
    ['*/*', false],
    [null, false],
  ])('%j → %s', (accept, html) => {
    expect(prefersHtml(accept)).toBe(html);
  });
});

describe('GraphiQL on the wire', () => {
  const stack = useStack({}, { resetEachTest: false });

  it('a GET that names text/html but prefers JSON gets a GraphQL answer', async () => {
    const answer = await get(`${stack.url}?query=${encodeURIComponent('{ __typename }')}`, {
      accept: 'text/html;q=0.1, application/json',
      'apollo-require-preflight': 'true',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({ data: { __typename: 'Query' } });
  });

  it('the page is a few kilobytes that name its assets, and compresses', async () => {
    const plain = await page(stack);
    expect(plain.status).toBe(200);
    expect(plain.body.byteLength).toBeLessThan(8_000);
    const html = plain.body.toString('utf8');
    expect(html).toContain('<title>CRM record photos</title>');
    // the stylesheet, the script and Monaco's three workers
    expect(assetUrls(stack, html).length).toBe(5);

    const br = await page(stack, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    expect(decoded(br).toString('utf8')).toBe(html);
    expect(br.body.byteLength).toBeLessThan(plain.body.byteLength / 2);
  });

  it('every asset: immutable for a year, br and gzip decode to the identity bytes, and the lot is under 2 MB in br', async () => {
    const html = (await page(stack)).body.toString('utf8');
    let identityBytes = 0;
    let brBytes = 0;
    let gzipBytes = 0;
    // …and what the stylesheet names (Monaco's icon font)
    const urls = assetUrls(stack, html);
    const css = (await get(urls.find((u) => u.endsWith('.css'))!)).body.toString('utf8');
    const fromCss = [...css.matchAll(/url\("?\.\/([\w.-]+)"?\)/g)].map((m) => new URL(`graphiql/assets/${m[1]}`, stack.url).toString());
    expect(fromCss.length).toBeGreaterThan(0);
    for (const url of [...urls, ...new Set(fromCss)]) {
      const identity = await get(url);
      expect(identity.status, url).toBe(200);
      expect(identity.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(identity.headers.etag).toMatch(/^W\/"[\w.-]+"$/);
      expect(identity.headers['content-encoding']).toBeUndefined();
      expect(Number(identity.headers['content-length'])).toBe(identity.body.byteLength);
      const br = await get(url, { 'accept-encoding': 'br' });
      const gzip = await get(url, { 'accept-encoding': 'gzip' });
      expect(br.headers['content-encoding']).toBe('br');
      expect(gzip.headers['content-encoding']).toBe('gzip');
      expect(decoded(br).equals(identity.body), url).toBe(true);
      expect(decoded(gzip).equals(identity.body), url).toBe(true);
      identityBytes += identity.body.byteLength;
      brBytes += br.body.byteLength;
      gzipBytes += gzip.body.byteLength;
    }
    // GraphiQL, React and Monaco: over 7 MB of text, about 1.5 MB in br.
    expect(identityBytes).toBeGreaterThan(5_000_000);
    expect(brBytes).toBeLessThan(2_000_000);
    expect(gzipBytes).toBeLessThan(2_500_000);
    console.log(`GraphiQL assets: ${identityBytes} bytes, ${brBytes} in br, ${gzipBytes} in gzip`);
  });

  it('every asset has the content type a browser needs', async () => {
    const html = (await page(stack)).body.toString('utf8');
    const urls = assetUrls(stack, html);
    const css = (await get(urls.find((u) => u.endsWith('.css'))!)).body.toString('utf8');
    const font = /url\("?\.\/([\w.-]+\.ttf)"?\)/.exec(css)?.[1];
    expect(font).toBeDefined();
    urls.push(new URL(`graphiql/assets/${font}`, stack.url).toString());
    const types = await Promise.all(urls.map(async (url) => [url.replace(/.*\//, ''), (await get(url, {}, 'HEAD')).headers['content-type']]));
    expect(types.map(([name]) => name!.replace(/^.*\./, '')).sort()).toEqual(['css', 'js', 'js', 'js', 'js', 'ttf']);
    for (const [name, type] of types) {
      if (name!.endsWith('.js')) expect(type, name).toBe('application/javascript; charset=utf-8');
      if (name!.endsWith('.css')) expect(type, name).toBe('text/css; charset=utf-8');
      if (name!.endsWith('.ttf')) expect(type, name).toBe('font/ttf');
    }
  });

  it('a revalidation with the ETag answers 304 with no body; HEAD answers the headers only', async () => {
    const html = (await page(stack)).body.toString('utf8');
    const url = assetUrls(stack, html).find((u) => /\/graphiql\.\w+\.js$/.test(u))!;
    const first = await get(url);
    const again = await get(url, { 'if-none-match': `W/"other", ${first.headers.etag}` });
    expect(again.status).toBe(304);
    expect(again.body.byteLength).toBe(0);
    const stale = await get(url, { 'if-none-match': '"other"' });
    expect(stale.status).toBe(200);
    const head = await get(url, { 'accept-encoding': 'br' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-encoding']).toBe('br');
    expect(head.body.byteLength).toBe(0);
  });

  it('an asset name it does not have (an older digest) is a 404', async () => {
    const missing = await get(new URL('graphiql/assets/graphiql.AAAAAAAA.js', stack.url).toString());
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toBe('No such GraphiQL asset.');
  });
});

describe('GraphQL answers', () => {
  const stack = useStack({}, { resetEachTest: false });
  const sdl = (headers: Record<string, string>) =>
    request(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: '{ _service { sdl } }' }),
    }).then(async (r) => ({ status: r.statusCode, headers: r.headers as Record<string, string>, body: Buffer.from(await r.body.arrayBuffer()) }));

  it('a large result is compressed when the client accepts it, and only then', async () => {
    const plain = await sdl({});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.byteLength).toBeGreaterThan(1024);
    const gzip = await sdl({ 'accept-encoding': 'gzip' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gzip.headers.vary).toMatch(/accept-encoding/i);
    expect(Number(gzip.headers['content-length'])).toBe(gzip.body.byteLength);
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
    const br = await sdl({ 'accept-encoding': 'br' });
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    expect(br.body.byteLength).toBeLessThan(plain.body.byteLength / 2);
  });

  it('a small result is sent as it is', async () => {
    const small = await request(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'accept-encoding': 'br, gzip' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(await small.body.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('a photo download (an image, streamed) is never compressed', async () => {
    // Padding a PNG is text-like: it would shrink if anything compressed it.
    const file = withPadding(png(64, 48), 20_000);
    expect(resultOf(await uploadPhoto(stack.url, { file })).__typename).toBe('UploadRecordPhotoSuccess');
    const photo = await get(new URL('/photos/Leads/1000000000001', stack.url).toString(), {
      authorization: 'Zoho-oauthtoken emulator-token',
      'accept-encoding': 'gzip, br',
    });
    expect(photo.status).toBe(200);
    expect(photo.headers['content-encoding']).toBeUndefined();
    expect(photo.body.equals(Buffer.from(file))).toBe(true);
  });
});

describe('a streamed body', () => {
  it('is never compressed, even a JSON one that declares its length', async () => {
    const json = JSON.stringify({ data: { padding: 'x'.repeat(4_000) } });
    const streams: Plugin = {
      onRequest({ url, endResponse, fetchAPI }) {
        if (url.pathname !== '/streamed') return;
        const body = new fetchAPI.ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(json));
            controller.close();
          },
        });
        endResponse(new fetchAPI.Response(body, { headers: { 'content-type': 'application/json', 'content-length': String(json.length) } }));
      },
    };
    const yoga = createYoga({ schema: createSchema({ typeDefs: 'type Query { a: String }' }), plugins: [streams, useResponseCompression()] });
    const streamed = await yoga.fetch('http://test/streamed', { headers: { 'accept-encoding': 'br, gzip' } });
    expect(streamed.headers.get('content-encoding')).toBeNull();
    expect(await streamed.text()).toBe(json);
    // …while the same bytes as a string are (the control)
    const whole = await yoga.fetch('http://test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'accept-encoding': 'br, gzip' },
      body: JSON.stringify({ query: `{ ${Array.from({ length: 200 }, (_, i) => `a${i}: __typename`).join(' ')} }` }),
    });
    expect(whole.headers.get('content-encoding')).toBe('br');
  });
});

describe('GRAPHIQL=false', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ GRAPHIQL: 'false' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves no asset', async () => {
    const on = await startStack();
    try {
      const html = (await page(on)).body.toString('utf8');
      const name = assetUrls(on, html)[0]!.replace(/.*\/graphiql\/assets\//, '');
      const off = await get(new URL(`graphiql/assets/${name}`, stack.url).toString());
      expect(off.status).toBe(404);
    } finally {
      await on.close();
    }
  });
});
