import { describe, expect, it } from 'vitest';
import { PassThroughCredentials, type CredentialProvider, type CrmCredential } from '../../src/crm/credentials.ts';
import type { RecordImagesReader, RecordImagesReply, RecordImagesRequest } from '../../src/crm/records-client.ts';
import { recordImagesIn } from '../../src/crm/records-client.ts';
import { RecordPhotoReads, RecordReadCancelledError, RecordReadRefusedError } from '../../src/photos/read-record-photos.ts';

const AUTH = 'Zoho-oauthtoken caller-token';

/** Stands in for the CRM: every record it is asked for exists, with Record_Image `v-{id}`, unless `reply` says otherwise. */
class FakeRecords implements RecordImagesReader {
  readonly requests: RecordImagesRequest[] = [];
  reply: (request: RecordImagesRequest) => RecordImagesReply = (request) => ({
    kind: 'records',
    status: 200,
    images: new Map(request.recordIds.map((id) => [id, `v-${id}`])),
  });
  async recordImages(request: RecordImagesRequest): Promise<RecordImagesReply> {
    this.requests.push(request);
    return this.reply(request);
  }
}

const ids = (count: number, from = 1_000_000_000_001) => Array.from({ length: count }, (_, i) => String(from + i));

describe('RecordPhotoReads', () => {
  it('one loader batches a tick of loads: one call per module per 100 ids, each id once', async () => {
    const crm = new FakeRecords();
    const loader = new RecordPhotoReads(crm, new PassThroughCredentials()).loaderFor({ callerAuthorization: AUTH });
    const states = await Promise.all([
      ...ids(150).map((recordId) => loader.load({ moduleApiName: 'Leads', recordId })),
      ...ids(100).map((recordId) => loader.load({ moduleApiName: 'Contacts', recordId })),
      loader.load({ moduleApiName: 'Leads', recordId: '1000000000001' }),
    ]);
    expect(crm.requests.map((r) => [r.moduleApiName, r.recordIds.length, r.authorization])).toEqual([
      ['Leads', 100, AUTH],
      ['Leads', 50, AUTH],
      ['Contacts', 100, AUTH],
    ]);
    expect(states[0]).toEqual({ found: true, photoVersion: 'v-1000000000001' });
    expect(states.at(-1)).toEqual(states[0]);
  });

  it('a record left out is not found; a null Record_Image is a record without photo', async () => {
    const crm = new FakeRecords();
    crm.reply = () => ({ kind: 'records', status: 200, images: new Map([['1000000000001', null]]) });
    const loader = new RecordPhotoReads(crm, new PassThroughCredentials()).loaderFor({ callerAuthorization: AUTH });
    expect(await loader.loadMany(ids(2).map((recordId) => ({ moduleApiName: 'Deals', recordId })))).toEqual([
      { found: true, photoVersion: null },
      { found: false },
    ]);
  });

  it('ids that are no record ids are not found, with no CRM call; no credentials: MISSING_CREDENTIALS, no call', async () => {
    const crm = new FakeRecords();
    const reads = new RecordPhotoReads(crm, new PassThroughCredentials());
    const loader = reads.loaderFor({ callerAuthorization: AUTH });
    expect(await loader.load({ moduleApiName: 'Leads', recordId: '1,2' })).toEqual({ found: false });
    const anonymous = reads.loaderFor({ callerAuthorization: null });
    const [refused, notAnId] = await anonymous.loadMany([
      { moduleApiName: 'Leads', recordId: '1000000000001' },
      { moduleApiName: 'Leads', recordId: 'x' },
    ]);
    expect(refused).toBeInstanceOf(RecordReadRefusedError);
    expect((refused as RecordReadRefusedError).failure.code).toBe('MISSING_CREDENTIALS');
    expect(notAnId).toEqual({ found: false });
    expect(crm.requests).toEqual([]);
  });

  it('a refused call fails each of its records with the same failure; INVALID_TOKEN drops the token', async () => {
    const crm = new FakeRecords();
    crm.reply = (request) =>
      request.moduleApiName === 'Leads'
        ? { kind: 'answered', answer: { status: 401, contentType: 'application/json', retryAfter: null, body: '{"code":"INVALID_TOKEN","details":{},"message":"invalid oauth token","status":"error"}' } }
        : { kind: 'records', status: 204, images: new Map() };
    const rejected: string[] = [];
    const credentials: CredentialProvider = {
      authorizationFor: async (): Promise<CrmCredential> => ({ ok: true, authorization: AUTH }),
      rejected: (authorization) => rejected.push(authorization),
    };
    const loader = new RecordPhotoReads(crm, credentials).loaderFor({ callerAuthorization: null });
    const results = await loader.loadMany([
      { moduleApiName: 'Leads', recordId: '1000000000001' },
      { moduleApiName: 'Leads', recordId: '1000000000002' },
      { moduleApiName: 'Contacts', recordId: '1000000000001' },
    ]);
    expect(results.slice(0, 2).map((r) => (r as RecordReadRefusedError).failure.code)).toEqual(['INVALID_TOKEN', 'INVALID_TOKEN']);
    expect(results[2]).toEqual({ found: false });
    expect(rejected).toEqual([AUTH]);
  });

  it.each<[string, RecordImagesReply, string]>([
    ['a full queue', { kind: 'queue-refused', detail: 'busy', retryAfterSeconds: 10 }, 'TOO_MANY_REQUESTS'],
    ['a timeout', { kind: 'transport-failed', failure: 'timeout', detail: 'UND_ERR_HEADERS_TIMEOUT' }, 'CRM_TIMEOUT'],
    ['a refused connection', { kind: 'transport-failed', failure: 'unreachable', detail: 'ECONNREFUSED' }, 'CRM_UNREACHABLE'],
    ['a bare SUCCESS', { kind: 'answered', answer: { status: 200, contentType: 'application/json', retryAfter: null, body: '{"code":"SUCCESS","message":"ok"}' } }, 'UNEXPECTED_RESPONSE'],
  ])('%s → %s', async (_case, reply, code) => {
    const crm = new FakeRecords();
    crm.reply = () => reply;
    const loader = new RecordPhotoReads(crm, new PassThroughCredentials()).loaderFor({ callerAuthorization: AUTH });
    await expect(loader.load({ moduleApiName: 'Leads', recordId: '1000000000001' })).rejects.toMatchObject({ failure: { code } });
  });

  it('a caller gone is no refusal', async () => {
    const crm = new FakeRecords();
    crm.reply = () => ({ kind: 'cancelled' });
    const loader = new RecordPhotoReads(crm, new PassThroughCredentials()).loaderFor({ callerAuthorization: AUTH });
    await expect(loader.load({ moduleApiName: 'Leads', recordId: '1000000000001' })).rejects.toBeInstanceOf(RecordReadCancelledError);
  });

  it('loaders of two requests share nothing', async () => {
    const crm = new FakeRecords();
    const reads = new RecordPhotoReads(crm, new PassThroughCredentials());
    const key = { moduleApiName: 'Leads', recordId: '1000000000001' };
    await reads.loaderFor({ callerAuthorization: AUTH }).load(key);
    await reads.loaderFor({ callerAuthorization: 'Zoho-oauthtoken other' }).load(key);
    expect(crm.requests.map((r) => r.authorization)).toEqual([AUTH, 'Zoho-oauthtoken other']);
  });
});

describe('recordImagesIn', () => {
  it('reads the ids asked for, Record_Image or null', () => {
    const body = JSON.stringify({ data: [{ id: '1', Record_Image: 'abc' }, { id: '2', Record_Image: null }, { id: '3' }, { id: '9', Record_Image: 'x' }], info: {} });
    expect(recordImagesIn(body, ['1', '2', '3'])).toEqual(new Map([['1', 'abc'], ['2', null], ['3', null]]));
  });

  it.each(['', 'not json', '{"code":"SUCCESS"}', '{"data":{}}', '{"data":[{"id":1}]}', '{"data":[{"id":"1","Record_Image":5}]}'])('%j is no records answer', (body) => {
    expect(recordImagesIn(body, ['1'])).toBeNull();
  });
});
