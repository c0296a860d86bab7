import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CRM_MAX_PHOTO_BYTES } from '../../emulator/photo-check.ts';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { EMULATOR_TOKEN } from '../../emulator/state.ts';
import { call, crmError, lastRequest, multipart, photoPath, png, RECORD, upload } from './helpers.ts';

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator({ customModules: ['Vehicles', 'Site_Visits'] });
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

describe('a valid upload', () => {
  it('answers 200 SUCCESS as JSON with the CRM content type', async () => {
    const answer = await upload(emulator.origin);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.json).toEqual({ code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' });
  });

  it('stores the bytes, file name, part content type, size and restrict_triggers on the record', async () => {
    const bytes = png(3, 4, 100);
    const before = Date.now();
    await upload(emulator.origin, {
      module: 'Contacts',
      recordId: '1000000000007',
      bytes,
      filename: 'Zoë portrait.png',
      contentType: 'image/png',
      query: 'restrict_triggers=workflow',
    });
    const photo = emulator.state.photo('Contacts', '1000000000007');
    expect(photo?.bytes.equals(bytes)).toBe(true);
    expect(photo).toMatchObject({
      filename: 'Zoë portrait.png',
      contentType: 'image/png',
      size: bytes.length,
      restrictTriggers: 'workflow',
    });
    expect(photo!.uploadedAt).toBeGreaterThanOrEqual(before);
    expect(emulator.state.photo('Contacts', '1000000000008')).toBeUndefined();
  });

  it('records the content type exactly as the part sent it, even when it does not match the bytes', async () => {
    await upload(emulator.origin, { bytes: png(1, 1), contentType: 'image/jpeg', filename: 'odd.jpg' });
    expect(emulator.state.photo('Leads', RECORD)).toMatchObject({ contentType: 'image/jpeg', restrictTriggers: null });
  });

  it('replaces the previous photo of the record', async () => {
    await upload(emulator.origin, { bytes: png(1, 1), filename: 'first.png' });
    const second = png(5, 5);
    await upload(emulator.origin, { bytes: second, filename: 'second.png' });
    expect(emulator.state.photo('Leads', RECORD)).toMatchObject({ filename: 'second.png', size: second.length });
  });

  it('matches module names case-insensitively and stores under the API name', async () => {
    const answer = await upload(emulator.origin, { module: 'lEaDs' });
    expect(answer.status).toBe(200);
    expect(emulator.state.photo('Leads', RECORD)).toBeDefined();
    expect(emulator.state.photo('LEADS', RECORD)).toBeDefined();
  });

  it.each(['Leads', 'Contacts', 'Accounts', 'Products', 'Deals', 'Vendors', 'Vehicles', 'site_visits'])(
    'accepts the module %s on every seeded record id',
    async (module) => {
      for (const recordId of ['1000000000001', '1000000000010']) {
        const answer = await upload(emulator.origin, { module, recordId });
        expect(answer.status, `${module}/${recordId}`).toBe(200);
      }
    },
  );

  it('accepts any v<digits> API version', async () => {
    expect((await upload(emulator.origin, { version: 'v2' })).status).toBe(200);
    expect((await upload(emulator.origin, { version: 'v8' })).status).toBe(200);
  });

  it('accepts a file of exactly 10 MiB and exactly 10 MP', async () => {
    const atLimit = png(5000, 2000, CRM_MAX_PHOTO_BYTES - png(1, 1).length);
    expect(atLimit.length).toBe(CRM_MAX_PHOTO_BYTES);
    const answer = await upload(emulator.origin, { bytes: atLimit });
    expect(answer.json).toMatchObject({ code: 'SUCCESS' });
    expect(emulator.state.photo('Leads', RECORD)?.size).toBe(CRM_MAX_PHOTO_BYTES);
  });
});

describe('credentials', () => {
  it('answers 401 AUTHENTICATION_FAILURE without an Authorization header', async () => {
    const answer = await upload(emulator.origin, { authorization: null });
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual(crmError('AUTHENTICATION_FAILURE', 'Authentication failed'));
  });

  it.each([
    ['an unknown token', 'Zoho-oauthtoken nobody-knows-me'],
    ['the Bearer scheme', `Bearer ${EMULATOR_TOKEN}`],
    ['a bare token', EMULATOR_TOKEN],
    ['a scheme without a token', 'Zoho-oauthtoken'],
  ])('answers 401 INVALID_TOKEN for %s', async (_case, authorization) => {
    const answer = await upload(emulator.origin, { authorization });
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual(crmError('INVALID_TOKEN', 'invalid oauth token'));
  });

  it('accepts the scheme in any letter case', async () => {
    expect((await upload(emulator.origin, { authorization: `zoho-OAUTHTOKEN ${EMULATOR_TOKEN}` })).status).toBe(200);
  });

  it('checks the token before the module', async () => {
    const answer = await upload(emulator.origin, { authorization: 'Zoho-oauthtoken wrong', module: 'Nope' });
    expect(answer.json).toMatchObject({ code: 'INVALID_TOKEN' });
  });
});

describe('modules', () => {
  it('answers 400 INVALID_MODULE for an unknown module', async () => {
    const answer = await upload(emulator.origin, { module: 'Spaceships' });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(crmError('INVALID_MODULE', 'the module name given seems to be invalid'));
  });

  it.each(['Documents', 'projects'])('answers 400 INVALID_MODULE "not supported in api" for %s', async (module) => {
    const answer = await upload(emulator.origin, { module });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(crmError('INVALID_MODULE', 'the given module is not supported in api'));
  });

  it('does not know custom modules it was not configured with', async () => {
    const plain = await startCrmEmulator();
    try {
      const answer = await upload(plain.origin, { module: 'Vehicles' });
      expect(answer.json).toMatchObject({ code: 'INVALID_MODULE' });
    } finally {
      await plain.close();
    }
  });

  it('refuses custom module names that are not API names or collide', async () => {
    await expect(startCrmEmulator({ customModules: ['Bad Name'] })).rejects.toThrow(/not a valid API name/);
    await expect(startCrmEmulator({ customModules: ['leads'] })).rejects.toThrow(/collides with the built-in module Leads/);
    await expect(startCrmEmulator({ customModules: ['Cars', 'CARS'] })).rejects.toThrow(/differ only in case/);
  });
});

describe('scopes and permissions', () => {
  it.each([
    ['ZohoCRM.modules.leads.CREATE', 'Leads'],
    ['ZohoCRM.modules.leads.WRITE', 'Leads'],
    ['zohocrm.modules.LEADS.all', 'Leads'],
    ['ZohoCRM.modules.vehicles.CREATE', 'Vehicles'],
    ['ZohoCRM.modules.custom.ALL', 'Vehicles'],
  ])('uploads with scope %s to %s', async (scope, module) => {
    emulator.state.addToken({ token: 'narrow', scopes: ['ZohoCRM.settings.ALL', scope] });
    const answer = await upload(emulator.origin, { authorization: 'Zoho-oauthtoken narrow', module });
    expect(answer.status).toBe(200);
  });

  it.each([
    ['ZohoCRM.modules.contacts.ALL', 'Leads'],
    ['ZohoCRM.modules.leads.READ', 'Leads'],
    ['ZohoCRM.modules.leads.DELETE', 'Leads'],
    ['ZohoCRM.modules.custom.ALL', 'Leads'],
    ['ZohoCRM.settings.ALL', 'Leads'],
  ])('answers 401 OAUTH_SCOPE_MISMATCH with only %s on %s', async (scope, module) => {
    emulator.state.addToken({ token: 'narrow', scopes: [scope] });
    const answer = await upload(emulator.origin, { authorization: 'Zoho-oauthtoken narrow', module });
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual(crmError('OAUTH_SCOPE_MISMATCH', 'Unauthorized'));
  });

  it('answers 403 NO_PERMISSION for a user without permission', async () => {
    emulator.state.addToken({ token: 'denied', scopes: ['ZohoCRM.modules.ALL'], permission: 'no-permission' });
    const answer = await upload(emulator.origin, { authorization: 'Zoho-oauthtoken denied' });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual(crmError('NO_PERMISSION', 'permission denied to upload photo'));
  });

  it('answers 400 AUTHORIZATION_FAILED for a user without the privilege', async () => {
    emulator.state.addToken({ token: 'junior', scopes: ['ZohoCRM.modules.ALL'], permission: 'no-privilege' });
    const answer = await upload(emulator.origin, { authorization: 'Zoho-oauthtoken junior' });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(
      crmError('AUTHORIZATION_FAILED', 'user does not have sufficient privilege to upload photo'),
    );
  });

  it('checks the scope before the permission, and the permission before the record', async () => {
    emulator.state.addToken({ token: 't', scopes: ['ZohoCRM.modules.deals.ALL'], permission: 'no-permission' });
    expect((await upload(emulator.origin, { authorization: 'Zoho-oauthtoken t' })).json).toMatchObject({
      code: 'OAUTH_SCOPE_MISMATCH',
    });
    expect(
      (await upload(emulator.origin, { authorization: 'Zoho-oauthtoken t', module: 'Deals', recordId: '42' })).json,
    ).toMatchObject({ code: 'NO_PERMISSION' });
  });
});

describe('records', () => {
  it.each(['1000000000011', '3000000038009', '0', 'abc'])('answers 400 INVALID_DATA for the record id %s', async (id) => {
    const answer = await upload(emulator.origin, { recordId: id });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(crmError('INVALID_DATA', 'the related id given seems to be invalid'));
  });

  it('answers 400 RECORD_LOCKED for a locked record, and uploads again once unlocked', async () => {
    emulator.state.lock('leads', RECORD);
    const locked = await upload(emulator.origin);
    expect(locked.status).toBe(400);
    expect(locked.json).toEqual(crmError('RECORD_LOCKED', 'You cannot perform this operation as the record is locked.'));
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
    expect((await upload(emulator.origin, { module: 'Contacts' })).status).toBe(200);
    emulator.state.unlock('Leads', RECORD);
    expect((await upload(emulator.origin)).status).toBe(200);
  });
});

describe('the body', () => {
  it('answers 400 REQUIRED_PARAM_MISSING for a body that is not multipart', async () => {
    const answer = await call(emulator.origin, 'POST', photoPath(), {
      body: JSON.stringify({ file: 'x' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(crmError('REQUIRED_PARAM_MISSING', 'file is required'));
  });

  it('answers 400 REQUIRED_PARAM_MISSING without a body', async () => {
    const answer = await call(emulator.origin, 'POST', photoPath());
    expect(answer.json).toEqual(crmError('REQUIRED_PARAM_MISSING', 'file is required'));
  });

  it('answers 400 REQUIRED_PARAM_MISSING when the file is under another field name', async () => {
    const answer = await upload(emulator.origin, { fieldName: 'photo' });
    expect(answer.json).toMatchObject({ code: 'REQUIRED_PARAM_MISSING' });
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
  });

  it('answers 400 REQUIRED_PARAM_MISSING when `file` is a text field, not a file', async () => {
    const { body, contentType } = multipart([{ name: 'file', data: 'not a file' }]);
    const answer = await call(emulator.origin, 'POST', photoPath(), { body, headers: { 'content-type': contentType } });
    expect(answer.json).toMatchObject({ code: 'REQUIRED_PARAM_MISSING' });
  });

  it('takes the `file` part among other parts', async () => {
    const bytes = png(7, 7);
    const { body, contentType } = multipart([
      { name: 'note', data: 'hello' },
      { name: 'other', filename: 'other.png', contentType: 'image/png', data: png(1, 1) },
      { name: 'file', filename: 'dir/real.png', contentType: 'image/png', data: bytes },
    ]);
    const answer = await call(emulator.origin, 'POST', photoPath(), { body, headers: { 'content-type': contentType } });
    expect(answer.status).toBe(200);
    const photo = emulator.state.photo('Leads', RECORD);
    expect(photo?.bytes.equals(bytes)).toBe(true);
    expect(photo?.filename).toBe('dir/real.png');
  });

  it('answers 400 INVALID_DATA for a file that is not an image', async () => {
    const answer = await upload(emulator.origin, { bytes: Buffer.from('%PDF-1.7 definitely a document'), filename: 'a.png' });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(crmError('INVALID_DATA', 'the file is not a supported image'));
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
  });

  it('answers 400 INVALID_DATA for an empty file', async () => {
    const answer = await upload(emulator.origin, { bytes: Buffer.alloc(0) });
    expect(answer.json).toEqual(crmError('INVALID_DATA', 'the file is not a supported image'));
  });

  it('answers 415 FILE_SIZE_MORE_THAN_ALLOWED_SIZE for one byte over 10 MiB, and logs the full size', async () => {
    const tooBig = png(10, 10, CRM_MAX_PHOTO_BYTES + 1 - png(1, 1).length);
    const answer = await upload(emulator.origin, { bytes: tooBig });
    expect(answer.status).toBe(415);
    expect(answer.json).toEqual(
      crmError('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', 'please check if the file size is in the correct range'),
    );
    expect(lastRequest(emulator.state.requests).file?.size).toBe(CRM_MAX_PHOTO_BYTES + 1);
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
  });

  it('answers 415 FILE_SIZE_MORE_THAN_ALLOWED_SIZE for more than 10 MP', async () => {
    const answer = await upload(emulator.origin, { bytes: png(5000, 2001) });
    expect(answer.status).toBe(415);
    expect(answer.json).toMatchObject({ code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE' });
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
  });

  it('answers 400 INVALID_MULTIPART for a multipart body that never closes', async () => {
    const answer = await call(emulator.origin, 'POST', photoPath(), {
      body: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'INVALID_MULTIPART', status: 'error' });
    expect((answer.json as { message: string }).message).toMatch(/^the multipart body is malformed: Unexpected end of/);
  });

  it('answers 400 INVALID_MULTIPART for a multipart content type without a boundary', async () => {
    const answer = await call(emulator.origin, 'POST', photoPath(), {
      body: 'whatever',
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'INVALID_MULTIPART' });
  });
});

describe('reading and deleting the photo', () => {
  it('GET answers 204 without a photo, then the stored bytes with their content type', async () => {
    const empty = await call(emulator.origin, 'GET', photoPath());
    expect(empty.status).toBe(204);
    expect(empty.text).toBe('');
    const bytes = png(9, 9, 10);
    await upload(emulator.origin, { bytes, contentType: 'image/png' });
    const stored = await call(emulator.origin, 'GET', photoPath({ module: 'leads' }));
    expect(stored.status).toBe(200);
    expect(stored.headers['content-type']).toBe('image/png');
    expect(Buffer.from(stored.text, 'latin1').length).toBe(bytes.length);
  });

  it('DELETE removes the photo and answers SUCCESS "photo deleted"', async () => {
    await upload(emulator.origin);
    const answer = await call(emulator.origin, 'DELETE', photoPath());
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ code: 'SUCCESS', details: {}, message: 'photo deleted', status: 'success' });
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
    expect((await call(emulator.origin, 'GET', photoPath())).status).toBe(204);
  });

  it('GET and DELETE check credentials and records too', async () => {
    expect((await call(emulator.origin, 'GET', photoPath(), { authorization: null })).json).toMatchObject({
      code: 'AUTHENTICATION_FAILURE',
    });
    expect((await call(emulator.origin, 'DELETE', photoPath({ recordId: '7' }))).json).toMatchObject({
      code: 'INVALID_DATA',
    });
    emulator.state.lock('Leads', RECORD);
    expect((await call(emulator.origin, 'DELETE', photoPath())).json).toMatchObject({ code: 'RECORD_LOCKED' });
  });
});

describe('methods and paths', () => {
  it.each(['PUT', 'PATCH', 'OPTIONS'])('answers 400 INVALID_REQUEST_METHOD for %s', async (method) => {
    const answer = await call(emulator.origin, method, photoPath(), { body: 'x' });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(crmError('INVALID_REQUEST_METHOD', 'the http request method type is not a valid one'));
  });

  it.each([
    '/',
    '/crm/v7/Leads/1000000000001',
    '/crm/v7/Leads/1000000000001/photo/',
    '/crm/v7/Leads/1000000000001/photos',
    '/crm/7/Leads/1000000000001/photo',
    '/crm/version7/Leads/1000000000001/photo',
    '/crm/v7/Leads/%E0%A4%A/photo',
    '/api/v7/Leads/1000000000001/photo',
  ])('answers 404 INVALID_URL_PATTERN for %s', async (path) => {
    const answer = await call(emulator.origin, 'POST', path, { body: 'x' });
    expect(answer.status).toBe(404);
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(answer.json).toEqual(
      crmError('INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one'),
    );
  });
});
