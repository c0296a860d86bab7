import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyMatcher } from '../../src/http/api-keys.ts';
import { png } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { startStack, type Stack } from '../support/stack.ts';

const KEY = 'caller-key-0123456789abcdef';

describe('API keys in pass-through mode', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ GATEWAY_API_KEYS: `other-key-0123456789abcdef,${KEY}` });
  });
  afterAll(async () => {
    await stack.close();
  });

  const body = multipartBody([...uploadParts(), { name: '0', filename: 'a.png', contentType: 'image/png', data: png(3, 3) }]);

  it.each([
    ['no key', {}],
    ['a wrong key', { 'x-api-key': 'caller-key-0123456789abcdeX' }],
    ['the key as a Bearer token (that header carries the CRM token here)', { authorization: `Bearer ${KEY}` }],
  ])('%s → 401 before any CRM call', async (_name, headers) => {
    await stack.crm.reset();
    const response = await postRaw(stack.url, { body, headers });
    expect(response.status).toBe(401);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(response.json?.errors?.[0]?.message).toContain('x-api-key');
    expect(response.text).not.toContain(KEY);
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('checks the key before anything else: no key and no preflight header is a 401, not a 403', async () => {
    const response = await postRaw(stack.url, { body, preflightHeader: false });
    expect(response.status).toBe(401);
  });

  it('a valid key in x-api-key lets the upload through with the caller’s own CRM token', async () => {
    await stack.crm.reset();
    const response = await postRaw(stack.url, { body, headers: { 'x-api-key': KEY } });
    expect(response.json?.data?.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');
    expect((await stack.crm.requests())[0]?.authorization).toBe('Zoho-oauthtoken emulator-token');
  });
});

describe('apiKeyMatcher', () => {
  const matches = apiKeyMatcher(['first-key-0123456789', 'second-key-0123456789']);
  it('matches any configured key exactly', () => {
    expect(matches('first-key-0123456789')).toBe(true);
    expect(matches('second-key-0123456789')).toBe(true);
  });
  it.each([null, '', 'first-key-012345678', 'first-key-01234567890', 'FIRST-KEY-0123456789'])('refuses %j', (presented) => {
    expect(matches(presented)).toBe(false);
  });
});
