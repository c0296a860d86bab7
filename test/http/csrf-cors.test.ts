import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { png } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { startStack, useStack } from '../support/stack.ts';

const stack = useStack({ CORS_ORIGINS: 'http://app.example.test, https://admin.example.test' }, { resetEachTest: false });

const upload = multipartBody([...uploadParts(), { name: '0', filename: 'a.png', contentType: 'image/png', data: png(4, 4) }]);

describe('CSRF prevention', () => {
  it('refuses a multipart request without a preflight-forcing header, before any CRM call', async () => {
    await stack.crm.reset();
    const response = await postRaw(stack.url, { body: upload, preflightHeader: false });
    expect(response.status).toBe(403);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('CSRF_PREVENTED');
    expect(response.json?.errors?.[0]?.message).toContain('apollo-require-preflight');
    expect(await stack.crm.requests()).toEqual([]);
  });

  it.each(['apollo-require-preflight', 'x-apollo-operation-name', 'graphql-require-preflight'])('accepts %s', async (header) => {
    await stack.crm.reset();
    const response = await postRaw(stack.url, { body: upload, headers: { [header]: 'UploadRecordPhoto' } });
    expect(response.json?.data?.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');
  });

  it('refuses a GET query without the header', async () => {
    const response = await fetch(`${stack.url}?query=${encodeURIComponent('{ _service { sdl } }')}`);
    expect(response.status).toBe(403);
  });

  it('lets a JSON POST through: browsers preflight it anyway', async () => {
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(200);
  });
});

describe('CORS', () => {
  const preflight = (origin: string, url = stack.url) =>
    fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,apollo-require-preflight',
      },
    });

  it('allows a configured origin, with the headers an upload needs', async () => {
    const response = await preflight('https://admin.example.test');
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://admin.example.test');
    expect(response.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/apollo-require-preflight/);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('gives any other origin no CORS headers', async () => {
    const response = await preflight('https://evil.example.test');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows no origin at all unless configured', async () => {
    const plain = await startStack();
    try {
      const response = await preflight('http://app.example.test', plain.url);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await plain.close();
    }
  });

  it.each(['*', 'app.example.test', 'https://app.example.test/path'])('refuses CORS_ORIGINS=%j at start-up', (origins) => {
    expect(() => loadConfig({ CORS_ORIGINS: origins })).toThrow(ConfigError);
    expect(() => loadConfig({ CORS_ORIGINS: origins })).toThrow(/CORS_ORIGINS must list origins/);
  });
});
