import { ApolloClient, CombinedGraphQLErrors, InMemoryCache } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { describe, expect, it, vi } from 'vitest';
import { pdf, png } from '../fixtures/images.ts';
import { useStack } from '../support/stack.ts';
import { UploadRecordPhotoDocument, type UploadRecordPhotoMutation, type UploadRecordPhotoMutationVariables } from './generated/graphql.ts';
import { createPhotoClient } from './support/apollo-client.ts';

// Apollo Client 4 with apollo-upload-client, in this Node process as in a frontend, with the typed document.

const stack = useStack();

type Result = UploadRecordPhotoMutation['uploadRecordPhoto'];
type Member<T extends Result['__typename']> = Extract<Result, { __typename: T }>;

/** Narrows the result on __typename, as a frontend's switch does, or fails naming what came back. */
function narrow<T extends Result['__typename']>(result: Result, typename: T): Member<T> {
  if (result.__typename !== typename) throw new Error(`expected ${typename}, got ${JSON.stringify(result)}`);
  return result as Member<T>;
}

interface Exchange {
  requestHeaders: Headers;
  body: unknown;
  status: number;
}

/** fetch as the link would call it, recording each request's headers and body type and the response status. */
function recordingFetch(exchanges: Exchange[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    exchanges.push({ requestHeaders: new Headers(init?.headers), body: init?.body, status: response.status });
    return response;
  };
}

const photoFile = (bytes: Uint8Array = png(320, 240), name = 'storefront.png', type = 'image/png') => new File([new Uint8Array(bytes)], name, { type });

async function upload(
  variables: Partial<UploadRecordPhotoMutationVariables> = {},
  authorization: string | null = 'Zoho-oauthtoken emulator-token',
  exchanges: Exchange[] = [],
) {
  const client = createPhotoClient({ uri: stack.url, authorization, fetch: recordingFetch(exchanges) });
  const { data } = await client.mutate({
    mutation: UploadRecordPhotoDocument,
    variables: { module: 'LEADS', recordId: '1000000000001', file: photoFile(), ...variables },
  });
  if (!data) throw new Error('no data');
  return { result: data.uploadRecordPhoto, client };
}

describe('Apollo Client + UploadHttpLink', () => {
  it('uploads a File: UploadRecordPhotoSuccess with the sniffed photo, and the CRM holds the exact bytes', async () => {
    const bytes = png(320, 240);
    const exchanges: Exchange[] = [];
    const { result } = await upload({ module: 'CONTACTS', recordId: '1000000000003', file: photoFile(bytes) }, undefined, exchanges);
    // one multipart request (FormData body), with the token and the preflight-forcing header
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]?.body).toBeInstanceOf(FormData);
    expect(exchanges[0]?.requestHeaders.get('apollo-require-preflight')).toBe('true');
    expect(exchanges[0]?.requestHeaders.get('authorization')).toBe('Zoho-oauthtoken emulator-token');
    expect(exchanges[0]?.status).toBe(200);

    const success = narrow(result, 'UploadRecordPhotoSuccess');
    expect(success.message).toBe('photo uploaded successfully');
    expect(success.record).toEqual({
      __typename: 'CrmRecord',
      module: 'CONTACTS',
      id: '1000000000003',
      photo: { __typename: 'RecordPhoto', version: expect.any(String), url: expect.stringMatching(/^\/photos\/Contacts\/1000000000003\?v=/) },
    });
    expect(success.photo).toMatchObject({ filename: 'storefront.png', contentType: 'image/png', format: 'PNG', byteSize: bytes.length, width: 320, height: 240 });
    expect((await stack.crm.photo('Contacts', '1000000000003'))?.bytes.equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps records of different modules with the same id apart in the cache', async () => {
    const { client } = await upload({ module: 'LEADS', recordId: '1000000000005' });
    await client.mutate({ mutation: UploadRecordPhotoDocument, variables: { module: 'DEALS', recordId: '1000000000005', file: photoFile() } });
    const keys = Object.keys(client.cache.extract() as Record<string, unknown>).filter((key) => key.startsWith('CrmRecord:'));
    expect(keys.sort()).toEqual(['CrmRecord:{"module":"DEALS","id":"1000000000005"}', 'CrmRecord:{"module":"LEADS","id":"1000000000005"}']);
  });

  it('AuthenticationError: no token → MISSING_CREDENTIALS, and the CRM is not called', async () => {
    const { result } = await upload({}, null);
    const error = narrow(result, 'AuthenticationError');
    expect(error.code).toBe('MISSING_CREDENTIALS');
    expect(error.resolution).toContain('Zoho-oauthtoken');
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('AuthenticationError: a token the CRM does not know → INVALID_TOKEN', async () => {
    const { result } = await upload({}, 'Zoho-oauthtoken 1000.expired-or-revoked');
    expect(narrow(result, 'AuthenticationError')).toMatchObject({ code: 'INVALID_TOKEN', message: expect.any(String) });
  });

  it('PermissionDeniedError: a token without the module scope names the scope it needs', async () => {
    await stack.crm.addToken('contacts-only', ['ZohoCRM.modules.contacts.ALL']);
    const { result } = await upload({ module: 'LEADS' }, 'Zoho-oauthtoken contacts-only');
    const error = narrow(result, 'PermissionDeniedError');
    expect(error.code).toBe('OAUTH_SCOPE_MISMATCH');
    expect(error.requiredScope).toBe('ZohoCRM.modules.leads.CREATE');
  });

  it('InvalidRecordError: a record the CRM does not have → INVALID_DATA with the record id', async () => {
    const { result } = await upload({ recordId: '3000000038009' });
    const error = narrow(result, 'InvalidRecordError');
    expect(error.code).toBe('INVALID_DATA');
    expect(error.recordId).toBe('3000000038009');
  });

  it('RecordLockedError: a locked record', async () => {
    await stack.crm.lock('Leads', '1000000000002');
    const { result } = await upload({ recordId: '1000000000002' });
    const error = narrow(result, 'RecordLockedError');
    expect(error.code).toBe('RECORD_LOCKED');
    expect(error.recordId).toBe('1000000000002');
    expect(error.resolution).toContain('unlocked');
  });

  it('PhotoRejectedError: a PDF named .png → UNSUPPORTED_FORMAT with the limits, and the CRM is not called', async () => {
    const { result } = await upload({ file: photoFile(pdf(), 'scan.png', 'image/png') });
    const error = narrow(result, 'PhotoRejectedError');
    expect(error).toMatchObject({ code: 'UNSUPPORTED_IMAGE_FORMAT', reason: 'UNSUPPORTED_FORMAT', maxBytes: 10_485_760, maxPixels: 10_000_000 });
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('RateLimitedError: the CRM answers 429 → retryAfterSeconds from Retry-After', async () => {
    await stack.crm.addFault({ kind: 'rate-limit', retryAfter: '17' });
    const { result } = await upload();
    const error = narrow(result, 'RateLimitedError');
    expect(error.code).toBe('TOO_MANY_REQUESTS');
    expect(error.retryAfterSeconds).toBe(17);
  });

  it('CrmServiceError: the CRM fails with INTERNAL_ERROR → retryable, with its status and code', async () => {
    await stack.crm.addFault({ kind: 'internal-error' });
    const { result } = await upload();
    const error = narrow(result, 'CrmServiceError');
    expect(error).toMatchObject({ code: 'INTERNAL_ERROR', retryable: true, httpStatus: 500, crmCode: 'INTERNAL_ERROR' });
  });

  it('InvalidModuleError: a CRM that does not offer the module in its API', async () => {
    await stack.crm.addFault({
      kind: 'respond',
      match: { module: 'Vendors' },
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({ code: 'INVALID_MODULE', details: {}, message: 'the given module is not supported in api', status: 'error' }),
    });
    const { result } = await upload({ module: 'VENDORS' });
    const error = narrow(result, 'InvalidModuleError');
    expect(error.code).toBe('INVALID_MODULE');
    expect(error.module).toBe('Vendors');
  });

  it('without apollo-require-preflight the gateway refuses the upload (403 CSRF_PREVENTED) and the CRM is not called', async () => {
    const exchanges: Exchange[] = [];
    const client = createPhotoClient({ uri: stack.url, authorization: 'Zoho-oauthtoken emulator-token', preflightHeader: false, fetch: recordingFetch(exchanges) });
    const attempt = client.mutate({ mutation: UploadRecordPhotoDocument, variables: { module: 'LEADS', recordId: '1000000000001', file: photoFile() } });
    const error = await attempt.then(() => null, (thrown: unknown) => thrown);
    expect(exchanges.map((exchange) => [exchange.body instanceof FormData, exchange.status])).toEqual([[true, 403]]);
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    expect(CombinedGraphQLErrors.is(error) && error.errors.map((e) => e.extensions?.['code'])).toEqual(['CSRF_PREVENTED']);
    expect(await stack.crm.requests()).toEqual([]);
  });
});

describe('the cache settings a frontend needs', () => {
  it("possibleTypes: with a bare InMemoryCache, a failure loses the fields selected through ... on CrmError", async () => {
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await stack.crm.lock('Leads', '1000000000002');
      const bare = new ApolloClient({
        cache: new InMemoryCache(),
        link: new UploadHttpLink({ uri: stack.url, headers: { authorization: 'Zoho-oauthtoken emulator-token', 'apollo-require-preflight': 'true' } }),
      });
      const { data } = await bare.mutate({
        mutation: UploadRecordPhotoDocument,
        variables: { module: 'LEADS', recordId: '1000000000002', file: photoFile() },
      });
      // code, message and resolution are gone: only the member's own field survives
      expect(data?.uploadRecordPhoto).toEqual({ __typename: 'RecordLockedError', recordId: '1000000000002' });
      expect(warnings).toHaveBeenCalledWith(expect.stringContaining('missing `possibleTypes` entry'), 'inline fragment', 'CrmError', 'RecordLockedError', 'RecordLockedError');
    } finally {
      warnings.mockRestore();
    }
  });
});
