import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { call, control, crmError, RECORD, upload } from './helpers.ts';

// GET /crm/{version}/{module}?ids=…&fields=Record_Image, as the CRM answers it.

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator({ customModules: ['Vehicles'] });
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

const getRecords = (module: string, query: string, authorization?: string | null) =>
  call(emulator.origin, 'GET', `/crm/v7/${module}?${query}`, authorization === undefined ? {} : { authorization });

describe('Get Records', () => {
  it('answers the records it has, with their Record_Image (null: no photo), and leaves the others out', async () => {
    await upload(emulator.origin, { module: 'Leads', recordId: '1000000000002' });
    const recordImage = emulator.state.photo('Leads', '1000000000002')!.recordImage;
    const answer = await getRecords('Leads', 'ids=1000000000001,1000000000002,1000000000999,abc&fields=Record_Image');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.json).toEqual({
      data: [
        { Record_Image: null, id: '1000000000001' },
        { Record_Image: recordImage, id: '1000000000002' },
      ],
      info: { per_page: 200, count: 2, page: 1, more_records: false },
    });
  });

  it('gives every upload a new Record_Image, and none once the photo is deleted', async () => {
    const images = new Set<string>();
    for (let i = 0; i < 3; i++) {
      await upload(emulator.origin, { module: 'Contacts' });
      images.add(emulator.state.photo('Contacts', RECORD)!.recordImage);
    }
    expect(images.size).toBe(3);
    const last = [...images].at(-1);
    expect((await getRecords('Contacts', `ids=${RECORD}&fields=Record_Image`)).json).toMatchObject({ data: [{ id: RECORD, Record_Image: last }] });
    // the control API shows it too, for tests that drive the emulator from outside
    expect((await control(emulator.origin, 'GET', `photos/Contacts/${RECORD}`)).headers['x-photo-record-image']).toBe(last);
    await call(emulator.origin, 'DELETE', `/crm/v7/Contacts/${RECORD}/photo`);
    expect((await getRecords('Contacts', `ids=${RECORD}&fields=Record_Image`)).json).toMatchObject({ data: [{ id: RECORD, Record_Image: null }] });
  });

  it('no match at all: 204 with no body', async () => {
    const answer = await getRecords('Leads', 'ids=1000000000999,2000000000001&fields=Record_Image');
    expect(answer.status).toBe(204);
    expect(answer.text).toBe('');
  });

  it('requires fields', async () => {
    const answer = await getRecords('Leads', `ids=${RECORD}`);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(crmError('REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing'));
  });

  it('takes at most 100 ids', async () => {
    const ids = (count: number) => Array.from({ length: count }, (_, i) => String(1_000_000_000_001 + i)).join(',');
    expect((await getRecords('Leads', `ids=${ids(100)}&fields=Record_Image`)).status).toBe(200);
    const answer = await getRecords('Leads', `ids=${ids(101)}&fields=Record_Image`);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });

  it.each([
    [['ZohoCRM.modules.ALL'], 200],
    [['ZohoCRM.modules.leads.READ'], 200],
    [['ZohoCRM.modules.leads.ALL'], 200],
    [['ZohoCRM.modules.leads.CREATE'], 401],
    [['ZohoCRM.modules.contacts.READ'], 401],
  ])('scopes %j → %i', async (scopes, status) => {
    emulator.state.addToken({ token: 'scoped', scopes });
    const answer = await getRecords('Leads', `ids=${RECORD}&fields=Record_Image`, 'Zoho-oauthtoken scoped');
    expect(answer.status).toBe(status);
    if (status === 401) expect(answer.json).toMatchObject({ code: 'OAUTH_SCOPE_MISMATCH' });
  });

  it('custom modules through the custom scope; credentials and module checked as for photos', async () => {
    emulator.state.addToken({ token: 'custom', scopes: ['ZohoCRM.modules.custom.READ'] });
    expect((await getRecords('Vehicles', `ids=${RECORD}&fields=Record_Image`, 'Zoho-oauthtoken custom')).status).toBe(200);
    expect((await getRecords('Leads', `ids=${RECORD}&fields=Record_Image`, null)).json).toMatchObject({ code: 'AUTHENTICATION_FAILURE' });
    expect((await getRecords('Leads', `ids=${RECORD}&fields=Record_Image`, 'Zoho-oauthtoken nope')).json).toMatchObject({ code: 'INVALID_TOKEN' });
    expect((await getRecords('Spaceships', `ids=${RECORD}&fields=Record_Image`)).json).toMatchObject({ code: 'INVALID_MODULE' });
  });

  it('shows every call in the request log, and takes faults matched on the module', async () => {
    await emulator.state.addFault({ kind: 'rate-limit', match: { module: 'contacts' } });
    expect((await getRecords('Contacts', `ids=${RECORD}&fields=Record_Image`)).status).toBe(429);
    await getRecords('Leads', `ids=${RECORD},1000000000002&fields=Record_Image`);
    expect(emulator.state.requests.map((entry) => [entry.method, entry.path, entry.query, entry.status])).toEqual([
      ['GET', '/crm/v7/Contacts', { ids: RECORD, fields: 'Record_Image' }, 429],
      ['GET', '/crm/v7/Leads', { ids: `${RECORD},1000000000002`, fields: 'Record_Image' }, 200],
    ]);
  });
});
