import { describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { download, graphql } from '../support/photo-routes.ts';
import { startStack, useStack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

const stack = useStack({ CRM_RESPONSE_TIMEOUT_MS: '1000' });

const DELETE_MUTATION = /* GraphQL */ `
  mutation DeleteRecordPhoto($module: CrmModule!, $recordId: ID!) {
    deleteRecordPhoto(module: $module, recordId: $recordId) {
      __typename
      ... on DeleteRecordPhotoSuccess { message record { module id photo { version url } } }
      ... on CrmError { code message resolution }
      ... on InvalidModuleError { module }
      ... on InvalidRecordError { recordId }
      ... on RecordLockedError { recordId }
      ... on PermissionDeniedError { requiredScope }
      ... on RateLimitedError { retryAfterSeconds }
      ... on CrmServiceError { retryable crmCode httpStatus }
    }
  }
`;

async function deletePhoto(url: string, variables: { module?: string; recordId?: string } = {}, headers: Record<string, string> = {}) {
  const answer = await graphql(url, DELETE_MUTATION, { module: 'LEADS', recordId: '1000000000001', ...variables }, headers);
  const result = answer.body.data?.deleteRecordPhoto as (Record<string, unknown> & { __typename: string }) | undefined;
  if (!result) throw new Error(`expected a result, got HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  return result;
}

const deleteCalls = async () => (await stack.crm.requests()).filter((r) => r.method === 'DELETE');

describe('deleteRecordPhoto', () => {
  it("removes the photo: the CRM's message, and the record's photo null after it", async () => {
    expect(resultOf(await uploadPhoto(stack.url, { file: png(4, 4) })).__typename).toBe('UploadRecordPhotoSuccess');
    expect(await stack.crm.photo('Leads', '1000000000001')).not.toBeNull();
    expect(await deletePhoto(stack.url)).toEqual({
      __typename: 'DeleteRecordPhotoSuccess',
      message: 'photo deleted',
      record: { module: 'LEADS', id: '1000000000001', photo: null },
    });
    expect(await stack.crm.photo('Leads', '1000000000001')).toBeNull();
    expect(await deleteCalls()).toMatchObject([{ path: '/crm/v7/Leads/1000000000001/photo', authorization: 'Zoho-oauthtoken emulator-token' }]);
    // the record's Record_Image is gone with it, and the download says so
    expect((await graphql(stack.url, '{ crmRecord(module: LEADS, id: "1000000000001") { photo { version } } }')).body.data).toEqual({
      crmRecord: { photo: null },
    });
    expect(await download(stack.url, '/photos/Leads/1000000000001', { authorization: 'Zoho-oauthtoken emulator-token' })).toMatchObject({
      status: 404,
      json: { code: 'NO_PHOTO' },
    });
  });

  it('is SUCCESS for a record that had no photo, as the CRM answers', async () => {
    expect(await deletePhoto(stack.url)).toMatchObject({ __typename: 'DeleteRecordPhotoSuccess', record: { photo: null } });
  });

  it('refuses an id that is not 1-19 digits, and missing credentials, with no CRM call', async () => {
    expect(await deletePhoto(stack.url, { recordId: '12/../3' })).toMatchObject({
      __typename: 'InvalidRecordError',
      code: 'INVALID_RECORD_ID',
      recordId: '12/../3',
    });
    expect(await deletePhoto(stack.url, {}, { authorization: '' })).toMatchObject({ __typename: 'AuthenticationError', code: 'MISSING_CREDENTIALS' });
    expect(await stack.crm.requests()).toEqual([]);
  });

  it.each([
    ['a token the CRM refuses', {}, { authorization: 'Zoho-oauthtoken nonsense' }, { __typename: 'AuthenticationError', code: 'INVALID_TOKEN' }],
    ['a record the CRM does not have', { recordId: '7' }, {}, { __typename: 'InvalidRecordError', code: 'INVALID_DATA', recordId: '7' }],
  ])('%s', async (_name, variables, headers, expected) => {
    expect(await deletePhoto(stack.url, variables, headers)).toMatchObject(expected);
  });

  it('needs the DELETE scope: a token that may only read gets PermissionDeniedError naming it', async () => {
    await stack.crm.addToken('read-only', ['ZohoCRM.modules.leads.READ']);
    expect(await deletePhoto(stack.url, {}, { authorization: 'Zoho-oauthtoken read-only' })).toMatchObject({
      __typename: 'PermissionDeniedError',
      code: 'OAUTH_SCOPE_MISMATCH',
      requiredScope: 'ZohoCRM.modules.leads.DELETE',
      resolution: expect.stringContaining('DELETE'),
    });
  });

  it('NO_PERMISSION is worded for deleting', async () => {
    await stack.crm.addFault({ kind: 'early-reject', status: 403, code: 'NO_PERMISSION', message: 'permission denied' });
    expect(await deletePhoto(stack.url)).toMatchObject({
      __typename: 'PermissionDeniedError',
      code: 'NO_PERMISSION',
      requiredScope: null,
      resolution: 'The user does not have the permission to delete this photo. Contact your system administrator.',
    });
  });

  it('a locked record: RecordLockedError', async () => {
    await stack.crm.lock('Leads', '1000000000001');
    expect(await deletePhoto(stack.url)).toMatchObject({ __typename: 'RecordLockedError', code: 'RECORD_LOCKED', recordId: '1000000000001' });
  });

  it.each([
    ['rate-limit', { kind: 'rate-limit', retryAfter: '9' } as const, { __typename: 'RateLimitedError', code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 9 }],
    ['internal-error', { kind: 'internal-error' } as const, { __typename: 'CrmServiceError', code: 'INTERNAL_ERROR', retryable: true, httpStatus: 500 }],
    ['html', { kind: 'html', status: 502 } as const, { __typename: 'CrmServiceError', code: 'UNEXPECTED_RESPONSE', httpStatus: 502 }],
    ['hang', { kind: 'hang' } as const, { __typename: 'CrmServiceError', code: 'CRM_TIMEOUT', retryable: true }],
    [
      'a code about photo bytes',
      { kind: 'early-reject', status: 415, code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE' } as const,
      { __typename: 'CrmServiceError', code: 'UNEXPECTED_RESPONSE', httpStatus: 415 },
    ],
  ])('%s', async (_name, fault, expected) => {
    await stack.crm.addFault(fault);
    expect(await deletePhoto(stack.url)).toMatchObject(expected);
  });

  it("a CRM that echoes the Authorization header has the caller's token masked", async () => {
    await stack.crm.addToken('1000.pass-through-token-abcdef', ['ZohoCRM.modules.ALL']);
    await stack.crm.addFault({ kind: 'echo-authorization', status: 500, code: 'SOMETHING_NEW' });
    const result = await deletePhoto(stack.url, {}, { authorization: 'Bearer 1000.pass-through-token-abcdef' });
    expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'UNEXPECTED_RESPONSE', crmCode: 'SOMETHING_NEW' });
    expect(result.message).toContain('[redacted]');
    expect(JSON.stringify(result)).not.toContain('pass-through-token-abcdef');
  });
});

describe('deleteRecordPhoto against other CRMs', () => {
  it('InvalidModuleError for a configured module the CRM does not know', async () => {
    const custom = await startStack({ CRM_CUSTOM_MODULES: 'Vehicles' }, { emulatorCustomModules: [] });
    try {
      expect(await deletePhoto(custom.url, { module: 'VEHICLES' })).toMatchObject({
        __typename: 'InvalidModuleError',
        code: 'INVALID_MODULE',
        module: 'Vehicles',
      });
    } finally {
      await custom.close();
    }
  });

  it('CrmServiceError CRM_UNREACHABLE when the CRM refuses connections', async () => {
    const away = await startStack({ ZOHO_API_DOMAIN: 'http://127.0.0.1:1' });
    try {
      expect(await deletePhoto(away.url)).toMatchObject({ __typename: 'CrmServiceError', code: 'CRM_UNREACHABLE', retryable: true });
    } finally {
      await away.close();
    }
  });
});
