import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../emulator/faults.ts';
import type { RequestLogEntry } from '../../emulator/state.ts';
import { png } from '../fixtures/images.ts';
import { startStack, useStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// CrmRecord.photo, Query.crmRecord and _entities read the CRM's Get Records API in batches: one call per module and
// per 100 records, each record once, with the uploads' credentials, limit and refusal codes.

const stack = useStack({ CRM_RESPONSE_TIMEOUT_MS: '500' });

const DEMO = 'Zoho-oauthtoken emulator-token';

interface GraphQLAnswer {
  status: number;
  data?: Record<string, any> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

async function graphql(url: string, query: string, variables: Record<string, unknown> = {}, authorization: string | null = DEMO): Promise<GraphQLAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as Omit<GraphQLAnswer, 'status'>) };
}

/** The Get Records calls in the emulator's log: GET /crm/v7/{module}. */
const getRecordsCalls = (log: RequestLogEntry[]) => log.filter((entry) => entry.method === 'GET' && /^\/crm\/v\d+\/[^/]+$/.test(entry.path));
const idsOf = (entry: RequestLogEntry) => entry.query.ids!.split(',');

const ENTITIES = /* GraphQL */ `
  query Entities($representations: [_Any!]!) {
    _entities(representations: $representations) { ... on CrmRecord { module id photo { version url } } }
  }
`;
const CRM_RECORD = /* GraphQL */ `
  query Record($module: CrmModule!, $id: ID!) {
    crmRecord(module: $module, id: $id) { module id photo { version url } }
  }
`;

const ids = (count: number) => Array.from({ length: count }, (_, i) => String(1_000_000_000_001 + i));
const representations = (module: string, recordIds: string[]) => recordIds.map((id) => ({ __typename: 'CrmRecord', module, id }));

describe('batching', () => {
  it('_entities for 250 records over two modules: 3 Get Records calls (150 Leads → 2, 100 Contacts → 1), none per record', async () => {
    await uploadPhoto(stack.url, { file: png(8, 8), module: 'CONTACTS', recordId: '1000000000003' }).then(resultOf);
    const before = (await stack.crm.requests()).length;
    const answer = await graphql(stack.url, ENTITIES, {
      representations: [...representations('LEADS', ids(150)), ...representations('CONTACTS', ids(100))],
    });
    expect(answer.errors).toBeUndefined();
    const entities = answer.data!._entities as ({ module: string; id: string; photo: { version: string } | null } | null)[];
    expect(entities).toHaveLength(250);
    // The emulator has ten records per module: those resolve, the ids it does not return are null entities.
    expect(entities.filter((entity) => entity !== null).map((entity) => `${entity!.module}/${entity!.id}`)).toEqual([
      ...ids(10).map((id) => `LEADS/${id}`),
      ...ids(10).map((id) => `CONTACTS/${id}`),
    ]);
    expect(entities[150 + 2]!.photo?.version).toBe((await stack.crm.photo('Contacts', '1000000000003'))!.recordImage);
    expect(entities.filter((entity) => entity?.photo)).toHaveLength(1);

    const calls = getRecordsCalls((await stack.crm.requests()).slice(before));
    expect(calls).toHaveLength(3);
    expect(calls.map((call) => [call.path, idsOf(call).length]).sort()).toEqual([
      ['/crm/v7/Contacts', 100],
      ['/crm/v7/Leads', 100],
      ['/crm/v7/Leads', 50],
    ]);
    expect(calls.flatMap(idsOf).sort()).toEqual([...ids(150), ...ids(100)].sort());
    expect(calls.every((call) => call.query.fields === 'Record_Image' && call.authorization === DEMO)).toBe(true);
  });

  it('asks for a record repeated in one operation once, across _entities items and across crmRecord fields', async () => {
    const repeated = await graphql(stack.url, ENTITIES, {
      representations: representations('DEALS', ['1000000000001', '1000000000002', '1000000000001', '1000000000001', '1000000000002']),
    });
    expect(repeated.data!._entities.map((entity: { id: string }) => entity.id)).toEqual([
      '1000000000001',
      '1000000000002',
      '1000000000001',
      '1000000000001',
      '1000000000002',
    ]);
    const aliases = await graphql(
      stack.url,
      `{ a: crmRecord(module: VENDORS, id: "1000000000004") { id photo { version } }
         b: crmRecord(module: VENDORS, id: "1000000000004") { photo { url } }
         c: crmRecord(module: PRODUCTS, id: "1000000000004") { id }
         d: crmRecord(module: VENDORS, id: "1000000000005") { id } }`,
    );
    expect(aliases.data).toEqual({
      a: { id: '1000000000004', photo: null },
      b: { photo: null },
      c: { id: '1000000000004' },
      d: { id: '1000000000005' },
    });
    const calls = getRecordsCalls(await stack.crm.requests());
    expect(calls.map((call) => [call.path, call.query.ids])).toEqual([
      ['/crm/v7/Deals', '1000000000001,1000000000002'],
      ['/crm/v7/Vendors', '1000000000004,1000000000005'],
      ['/crm/v7/Products', '1000000000004'],
    ]);
  });

  it('_entities asked only for key fields echoes the representations with no CRM call', async () => {
    const answer = await graphql(stack.url, '{ _entities(representations: [{ __typename: "CrmRecord", module: LEADS, id: "42" }]) { ... on CrmRecord { module id } } }', {}, null);
    expect(answer.data).toEqual({ _entities: [{ module: 'LEADS', id: '42' }] });
    expect(await stack.crm.requests()).toEqual([]);
  });
});

describe('what a read returns', () => {
  it("crmRecord after an upload: photo { version url } with the emulator's Record_Image; a record without one: photo null", async () => {
    await uploadPhoto(stack.url, { file: png(8, 8), module: 'LEADS', recordId: '1000000000001' }).then(resultOf);
    const { recordImage } = (await stack.crm.photo('Leads', '1000000000001'))!;
    expect(recordImage).toMatch(/^[0-9a-f]{40}$/);
    expect((await graphql(stack.url, CRM_RECORD, { module: 'LEADS', id: '1000000000001' })).data).toEqual({
      crmRecord: { module: 'LEADS', id: '1000000000001', photo: { version: recordImage, url: `/photos/Leads/1000000000001?v=${recordImage}` } },
    });
    expect((await graphql(stack.url, CRM_RECORD, { module: 'LEADS', id: '1000000000002' })).data).toEqual({
      crmRecord: { module: 'LEADS', id: '1000000000002', photo: null },
    });
  });

  it("the upload's record { photo { version } } is the new photo's version, a new one each time", async () => {
    const query = /* GraphQL */ `
      mutation ($file: Upload!) {
        uploadRecordPhoto(module: ACCOUNTS, recordId: "1000000000006", file: $file) {
          __typename ... on UploadRecordPhotoSuccess { record { photo { version } } }
        }
      }
    `;
    const upload = async () => {
      const form = new FormData();
      form.set('operations', JSON.stringify({ query, variables: { file: null } }));
      form.set('map', JSON.stringify({ 0: ['variables.file'] }));
      form.set('0', new Blob([png(8, 8)]), 'photo.png');
      const response = await fetch(stack.url, { method: 'POST', body: form, headers: { authorization: DEMO, 'apollo-require-preflight': 'true' } });
      return ((await response.json()) as { data: { uploadRecordPhoto: { record: { photo: { version: string } } } } }).data.uploadRecordPhoto;
    };
    const first = await upload();
    expect(first.record.photo.version).toBe((await stack.crm.photo('Accounts', '1000000000006'))!.recordImage);
    const second = await upload();
    expect(second.record.photo.version).toBe((await stack.crm.photo('Accounts', '1000000000006'))!.recordImage);
    expect(second.record.photo.version).not.toBe(first.record.photo.version);
    // each success read its record once, after the upload
    expect((await stack.crm.requests()).map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      'POST /crm/v7/Accounts/1000000000006/photo',
      'GET /crm/v7/Accounts',
      'POST /crm/v7/Accounts/1000000000006/photo',
      'GET /crm/v7/Accounts',
    ]);
  });

  it('an id the CRM does not return gives crmRecord null; an id that is no record id gives null with no CRM call', async () => {
    expect((await graphql(stack.url, CRM_RECORD, { module: 'LEADS', id: '1000000000999' })).data).toEqual({ crmRecord: null });
    expect(getRecordsCalls(await stack.crm.requests())).toHaveLength(1);
    for (const id of ['abc', '1,2', '12345678901234567890', '']) {
      expect(await graphql(stack.url, CRM_RECORD, { module: 'LEADS', id })).toEqual({ status: 200, data: { crmRecord: null } });
    }
    expect(getRecordsCalls(await stack.crm.requests())).toHaveLength(1);
  });
});

describe('a refused read is an error on each field it leaves empty, with the code an upload would get', () => {
  const THREE_LEADS = representations('LEADS', ids(3));

  /** `_entities` for three Leads: three null entities, each with its own error carrying `code`. */
  async function expectRefusedEntities(code: string, authorization: string | null = DEMO): Promise<Record<string, unknown>> {
    const answer = await graphql(stack.url, ENTITIES, { representations: THREE_LEADS }, authorization);
    expect(answer.status).toBe(200);
    expect(answer.data).toEqual({ _entities: [null, null, null] });
    expect(answer.errors?.map((error) => [error.path, error.extensions?.code])).toEqual([
      [['_entities', 0], code],
      [['_entities', 1], code],
      [['_entities', 2], code],
    ]);
    return answer.errors![0]!.extensions!;
  }

  it('no credentials: MISSING_CREDENTIALS, and the CRM is not called', async () => {
    const extensions = await expectRefusedEntities('MISSING_CREDENTIALS', null);
    expect(extensions.resolution).toMatch(/Zoho-oauthtoken/);
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('an invalid token: INVALID_TOKEN, one CRM call', async () => {
    await expectRefusedEntities('INVALID_TOKEN', 'Zoho-oauthtoken no-such-token');
    expect(getRecordsCalls(await stack.crm.requests())).toHaveLength(1);
  });

  it('a token without the READ scope: OAUTH_SCOPE_MISMATCH naming the read scope', async () => {
    await stack.crm.addToken('create-only', ['ZohoCRM.modules.leads.CREATE']);
    const extensions = await expectRefusedEntities('OAUTH_SCOPE_MISMATCH', 'Zoho-oauthtoken create-only');
    expect(extensions.requiredScope).toBe('ZohoCRM.modules.leads.READ');
  });

  it.each<[string, FaultSpec, Record<string, unknown>]>([
    ['NO_PERMISSION', { kind: 'respond', status: 403, body: '{"code":"NO_PERMISSION","details":{},"message":"permission denied","status":"error"}' }, {}],
    ['TOO_MANY_REQUESTS', { kind: 'rate-limit', retryAfter: '17' }, { retryAfterSeconds: 17 }],
    ['INTERNAL_ERROR', { kind: 'internal-error' }, { retryable: true, httpStatus: 500 }],
    ['CRM_TIMEOUT', { kind: 'hang' }, { retryable: true }],
    ['UNEXPECTED_RESPONSE', { kind: 'html', status: 502 }, { retryable: true, httpStatus: 502 }],
    ['UNEXPECTED_RESPONSE', { kind: 'respond', status: 200, body: '{"code":"SUCCESS","details":{},"message":"ok","status":"success"}' }, { retryable: false }],
  ])('%s from the CRM', async (code, fault, more) => {
    await stack.crm.addFault(fault);
    expect(await expectRefusedEntities(code)).toMatchObject(more);
  });

  it("a CRM that echoes the Authorization header has the caller's token masked", async () => {
    await stack.crm.addToken('1000.pass-through-token-abcdef', ['ZohoCRM.modules.ALL']);
    await stack.crm.addFault({ kind: 'echo-authorization', status: 500, code: 'SOMETHING_NEW' });
    const answer = await graphql(stack.url, ENTITIES, { representations: THREE_LEADS }, 'Bearer 1000.pass-through-token-abcdef');
    expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['UNEXPECTED_RESPONSE', 'UNEXPECTED_RESPONSE', 'UNEXPECTED_RESPONSE']);
    expect(JSON.stringify(answer)).toContain('[redacted]');
    expect(JSON.stringify(answer)).not.toContain('pass-through-token-abcdef');
  });

  it('a refusal for one module leaves the other module\'s records alone', async () => {
    await stack.crm.addFault({ kind: 'rate-limit', retryAfter: '5', match: { module: 'Leads' } });
    const answer = await graphql(
      stack.url,
      `{ leads: crmRecord(module: LEADS, id: "1000000000001") { id photo { version } }
         contacts: crmRecord(module: CONTACTS, id: "1000000000001") { id photo { version } } }`,
    );
    expect(answer.data).toEqual({ leads: null, contacts: { id: '1000000000001', photo: null } });
    expect(answer.errors).toEqual([
      expect.objectContaining({ path: ['leads'], extensions: expect.objectContaining({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 5 }) }),
    ]);
  });

  it("a refusal after an upload leaves the record but errs on its photo", async () => {
    await stack.crm.addToken('create-only', ['ZohoCRM.modules.leads.CREATE']);
    const form = new FormData();
    const query = 'mutation ($file: Upload!) { uploadRecordPhoto(module: LEADS, recordId: "1000000000001", file: $file) { ... on UploadRecordPhotoSuccess { record { id photo { version } } } } }';
    form.set('operations', JSON.stringify({ query, variables: { file: null } }));
    form.set('map', JSON.stringify({ 0: ['variables.file'] }));
    form.set('0', new Blob([png(8, 8)]), 'photo.png');
    const response = await fetch(stack.url, { method: 'POST', body: form, headers: { authorization: 'Zoho-oauthtoken create-only', 'apollo-require-preflight': 'true' } });
    const body = (await response.json()) as GraphQLAnswer;
    expect(body.data).toEqual({ uploadRecordPhoto: { record: { id: '1000000000001', photo: null } } });
    expect(body.errors?.map((error) => [error.path, error.extensions?.code])).toEqual([[['uploadRecordPhoto', 'record', 'photo'], 'OAUTH_SCOPE_MISMATCH']]);
  });
});

describe('with a CRM that cannot be reached, or a gateway at its limit', () => {
  let offline: Stack;
  let busy: Stack;
  beforeAll(async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    offline = await startStack({ ZOHO_API_DOMAIN: `http://127.0.0.1:${closedPort}` });
    busy = await startStack({ CRM_MAX_CONCURRENCY: '1', CRM_MAX_QUEUE: '0', CRM_QUEUE_TIMEOUT_MS: '2000', CRM_RESPONSE_TIMEOUT_MS: '20000' });
  });
  afterAll(async () => {
    await offline?.close();
    await busy?.close();
  });

  it('CRM_UNREACHABLE', async () => {
    const answer = await graphql(offline.url, CRM_RECORD, { module: 'LEADS', id: '1000000000001' });
    expect(answer.data).toEqual({ crmRecord: null });
    expect(answer.errors?.[0]).toMatchObject({ path: ['crmRecord'], extensions: { code: 'CRM_UNREACHABLE', retryable: true } });
  });

  it('reads wait on the same CRM slots as uploads: with the only slot held by an upload, a read is refused TOO_MANY_REQUESTS', async () => {
    await busy.crm.addFault({ kind: 'hang', match: { recordId: '1000000000001' } });
    const held = uploadPhoto(busy.url, { file: png(8, 8), recordId: '1000000000001' }).catch(() => null);
    await busy.crm.waitFor((log) => log.length === 1);
    const answer = await graphql(busy.url, CRM_RECORD, { module: 'LEADS', id: '1000000000002' });
    expect(answer.data).toEqual({ crmRecord: null });
    expect(answer.errors?.[0]).toMatchObject({
      path: ['crmRecord'],
      message: expect.stringContaining('limit of concurrent calls to the CRM'),
      extensions: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 2 },
    });
    expect(getRecordsCalls(await busy.crm.requests())).toEqual([]);
    busy.gateway.server.closeAllConnections();
    await held;
  });
});
