import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { call, control, png, RECORD, upload } from './helpers.ts';

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator({ customModules: ['Vehicles'] });
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

describe('the control API', () => {
  it('adds a token with narrower scopes and a permission', async () => {
    const added = await control(emulator.origin, 'POST', 'tokens', {
      token: 'contacts-only',
      scopes: ['ZohoCRM.modules.contacts.CREATE'],
    });
    expect(added.status).toBe(200);
    expect(added.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(added.json).toEqual({
      ok: true,
      token: { token: 'contacts-only', scopes: ['ZohoCRM.modules.contacts.CREATE'], permission: 'granted' },
    });
    const auth = 'Zoho-oauthtoken contacts-only';
    expect((await upload(emulator.origin, { authorization: auth, module: 'Contacts' })).status).toBe(200);
    expect((await upload(emulator.origin, { authorization: auth })).json).toMatchObject({ code: 'OAUTH_SCOPE_MISMATCH' });

    await control(emulator.origin, 'POST', 'tokens', {
      token: 'contacts-only',
      scopes: ['ZohoCRM.modules.ALL'],
      permission: 'no-privilege',
    });
    expect((await upload(emulator.origin, { authorization: auth })).json).toMatchObject({ code: 'AUTHORIZATION_FAILED' });
  });

  it('can revoke the seeded token by replacing its scopes', async () => {
    await control(emulator.origin, 'POST', 'tokens', { token: 'emulator-token', scopes: [] });
    expect((await upload(emulator.origin)).json).toMatchObject({ code: 'OAUTH_SCOPE_MISMATCH' });
  });

  it('locks and unlocks a record', async () => {
    expect((await control(emulator.origin, 'POST', 'locks', { module: 'vehicles', recordId: RECORD })).json).toEqual({
      ok: true,
    });
    expect((await upload(emulator.origin, { module: 'Vehicles' })).json).toMatchObject({ code: 'RECORD_LOCKED' });
    expect(emulator.state.isLocked('Vehicles', RECORD)).toBe(true);
    await control(emulator.origin, 'DELETE', 'locks', { module: 'Vehicles', recordId: RECORD });
    expect((await upload(emulator.origin, { module: 'Vehicles' })).status).toBe(200);
  });

  it('lists the request log', async () => {
    await upload(emulator.origin, { authorization: null });
    const log = await control(emulator.origin, 'GET', 'requests');
    expect(log.status).toBe(200);
    expect(log.json).toEqual([expect.objectContaining({ method: 'POST', status: 401, code: 'AUTHENTICATION_FAILURE', state: 'answered' })]);
  });

  it('serves a stored photo with its content type, file name and restrict_triggers', async () => {
    const bytes = png(6, 6, 64);
    await upload(emulator.origin, { bytes, filename: 'café & co.png', query: 'restrict_triggers=workflow' });
    const photo = await call(emulator.origin, 'GET', `/__emulator/photos/leads/${RECORD}`, { authorization: null });
    expect(photo.status).toBe(200);
    expect(photo.headers['content-type']).toBe('image/png');
    expect(decodeURIComponent(photo.headers['x-photo-filename'] as string)).toBe('café & co.png');
    expect(photo.headers['x-photo-restrict-triggers']).toBe('workflow');
    expect(Number(photo.headers['content-length'])).toBe(bytes.length);
  });

  it('answers 404 for a record without a photo', async () => {
    const missing = await call(emulator.origin, 'GET', `/__emulator/photos/Leads/${RECORD}`, { authorization: null });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: `no photo stored for Leads/${RECORD}` });
  });

  it('resets tokens, locks, photos, faults and the request log', async () => {
    emulator.state.addToken({ token: 'extra', scopes: ['ZohoCRM.modules.ALL'] });
    await upload(emulator.origin, { module: 'Deals' });
    emulator.state.lock('Leads', RECORD);
    emulator.state.addFault({ kind: 'internal-error', match: { module: 'Accounts' } });
    expect((await control(emulator.origin, 'POST', 'reset')).json).toEqual({ ok: true });
    expect(emulator.state.requests).toEqual([]);
    expect(emulator.state.faults).toEqual([]);
    expect(emulator.state.photo('Deals', RECORD)).toBeUndefined();
    expect(emulator.state.isLocked('Leads', RECORD)).toBe(false);
    expect((await upload(emulator.origin, { authorization: 'Zoho-oauthtoken extra' })).json).toMatchObject({
      code: 'INVALID_TOKEN',
    });
    expect((await upload(emulator.origin, { module: 'Accounts' })).status).toBe(200);
  });

  it.each([
    ['POST', 'tokens', { token: '', scopes: [] }, /'token' must be a non-empty string/],
    ['POST', 'tokens', { token: 't', scopes: 'ZohoCRM.modules.ALL' }, /'scopes' must be an array of strings/],
    ['POST', 'tokens', { token: 't', scopes: [], permission: 'admin' }, /'permission' must be one of granted, no-permission, no-privilege/],
    ['POST', 'locks', { module: 'Spaceships', recordId: RECORD }, /unknown module "Spaceships"/],
    ['POST', 'locks', { module: 'Leads', recordId: '99' }, /unknown record "99" in Leads/],
    ['DELETE', 'locks', { module: 'Leads' }, /'recordId' must be a non-empty string/],
    ['POST', 'faults', { kind: 'nope' }, /fault field 'kind' must be one of/],
    ['POST', 'faults', [1, 2], /a fault must be a JSON object/],
  ])('answers 400 with a precise message for %s %s %j', async (method, path, body, message) => {
    const answer = await control(emulator.origin, method, path, body);
    expect(answer.status).toBe(400);
    expect((answer.json as { error: string }).error).toMatch(message);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const answer = await call(emulator.origin, 'POST', '/__emulator/tokens', { authorization: null, body: '{token' });
    expect(answer.status).toBe(400);
    expect((answer.json as { error: string }).error).toMatch(/^control body is not JSON/);
  });

  it('answers 404 for an unknown endpoint and 405 for a wrong method', async () => {
    const unknown = await control(emulator.origin, 'GET', 'everything');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'no control endpoint GET /__emulator/everything' });
    const wrong = await control(emulator.origin, 'PUT', 'locks', {});
    expect(wrong.status).toBe(405);
    expect(wrong.headers['allow']).toBe('POST, DELETE');
    expect(wrong.json).toEqual({ error: '/__emulator/locks accepts POST, DELETE, not PUT' });
  });
});

describe('the in-process state API', () => {
  it('exposes modules, seeded records and the demo token', () => {
    const { state } = emulator;
    expect(state.modules).toEqual(['Leads', 'Contacts', 'Accounts', 'Products', 'Deals', 'Vendors', 'Vehicles']);
    expect(state.recordExists('vehicles', '1000000000010')).toBe(true);
    expect(state.recordExists('Leads', '1000000000011')).toBe(false);
    expect(state.token('emulator-token')).toEqual({ token: 'emulator-token', scopes: ['ZohoCRM.modules.ALL'], permission: 'granted' });
  });

  it('refuses a bad token or permission', () => {
    expect(() => emulator.state.addToken({ token: 'has space', scopes: [] })).toThrow(/without whitespace/);
    expect(() => emulator.state.addToken({ token: 't', scopes: [], permission: 'root' as never })).toThrow(
      /permission must be one of/,
    );
  });

  it('stores and deletes photos directly', () => {
    const photo = { bytes: png(1, 1), filename: 'p.png', contentType: 'image/png', size: 33, restrictTriggers: null, uploadedAt: 1 };
    const recordImage = emulator.state.storePhoto('leads', RECORD, photo);
    expect(recordImage).toMatch(/^[0-9a-f]{40}$/);
    expect(emulator.state.photo('LEADS', RECORD)).toEqual({ ...photo, recordImage });
    expect(emulator.state.storePhoto('Leads', RECORD, photo)).not.toBe(recordImage); // every upload: a new Record_Image
    expect(emulator.state.deletePhoto('Leads', RECORD)).toBe(true);
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
    expect(emulator.state.photo('Nope', RECORD)).toBeUndefined();
  });
});
