import { describe, expect, it } from 'vitest';
import { readCrmAnswer, retryAfterSeconds, type CrmAnswer } from '../../src/crm/answers.ts';
import { CRM_ERROR_CODES, resolutionFor, verdictOfCrmAnswer, type PhotoTarget } from '../../src/photos/failures.ts';

const interpretPhotoAnswer = (answer: CrmAnswer, target: PhotoTarget) => verdictOfCrmAnswer(readCrmAnswer(answer), target);

const target = { moduleApiName: 'Leads', recordId: '1000000000001' };
const json = (status: number, code: string, message = 'm', extra: Partial<CrmAnswer> = {}): CrmAnswer => ({
  status,
  contentType: 'application/json;charset=UTF-8',
  retryAfter: null,
  body: JSON.stringify({ code, details: {}, message, status: code === 'SUCCESS' ? 'success' : 'error' }),
  ...extra,
});

describe('verdictOfCrmAnswer', () => {
  it('reads SUCCESS as success with the CRM message', () => {
    expect(interpretPhotoAnswer(json(200, 'SUCCESS', 'photo uploaded successfully'), target)).toEqual({
      ok: true,
      message: 'photo uploaded successfully',
    });
  });

  it('reads the answer inside data[0] too', () => {
    const answer = { ...json(200, 'x'), body: JSON.stringify({ data: [{ code: 'SUCCESS', message: 'ok' }] }) };
    expect(interpretPhotoAnswer(answer, target)).toEqual({ ok: true, message: 'ok' });
  });

  it.each([
    ['INVALID_MODULE', 400, 'invalid-module', { module: 'Leads' }],
    ['INVALID_URL_PATTERN', 404, 'invalid-record', { recordId: '1000000000001' }],
    ['INVALID_DATA', 400, 'invalid-record', { recordId: '1000000000001' }],
    ['RECORD_LOCKED', 400, 'record-locked', { recordId: '1000000000001' }],
    ['FILE_SIZE_MORE_THAN_ALLOWED_SIZE', 415, 'photo-rejected', { reason: 'CRM_LIMIT', maxBytes: 10485760, maxPixels: 10000000 }],
    ['INVALID_TOKEN', 401, 'authentication', {}],
    ['AUTHENTICATION_FAILURE', 401, 'authentication', {}],
    ['OAUTH_SCOPE_MISMATCH', 401, 'permission-denied', { requiredScope: 'ZohoCRM.modules.leads.CREATE' }],
    ['NO_PERMISSION', 403, 'permission-denied', { requiredScope: null }],
    ['AUTHORIZATION_FAILED', 400, 'permission-denied', { requiredScope: null }],
    ['INTERNAL_ERROR', 500, 'crm-service', { retryable: true, crmCode: 'INTERNAL_ERROR', httpStatus: 500 }],
    ['INVALID_REQUEST_METHOD', 400, 'crm-service', { retryable: false, crmCode: 'INVALID_REQUEST_METHOD', httpStatus: 400 }],
  ])('maps %s (HTTP %i) to %s', (code, status, kind, fields) => {
    const result = interpretPhotoAnswer(json(status, code, 'crm says'), target);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject({ kind, code, message: 'crm says', ...fields });
    expect(result.failure.resolution).toBeTruthy();
  });

  it('names the module in the scope resolution', () => {
    const result = interpretPhotoAnswer(json(401, 'OAUTH_SCOPE_MISMATCH'), { moduleApiName: 'Site_Visits', recordId: '1' });
    expect(!result.ok && result.failure.resolution).toContain('ZohoCRM.modules.site_visits.CREATE');
  });

  it('keeps an unknown code verbatim and calls it UNEXPECTED_RESPONSE', () => {
    const result = interpretPhotoAnswer(json(400, 'SOMETHING_NEW', 'a new thing'), target);
    expect(!result.ok && result.failure).toMatchObject({
      kind: 'crm-service',
      code: 'UNEXPECTED_RESPONSE',
      crmCode: 'SOMETHING_NEW',
      httpStatus: 400,
      retryable: false,
    });
    expect(!result.ok && result.failure.message).toContain('SOMETHING_NEW');
  });

  it.each([
    ['an HTML page', 502, '<html><body>Bad Gateway</body></html>', 'text/html', true],
    ['an empty body', 200, '', null, false],
    ['JSON without a code', 400, '{"status":"error"}', 'application/json', false],
    ['a JSON array', 503, '[]', 'application/json', true],
  ])('reads %s as UNEXPECTED_RESPONSE', (_name, status, body, contentType, retryable) => {
    const result = interpretPhotoAnswer({ status, body, contentType, retryAfter: null }, target);
    expect(!result.ok && result.failure).toMatchObject({
      kind: 'crm-service',
      code: 'UNEXPECTED_RESPONSE',
      crmCode: null,
      httpStatus: status,
      retryable,
    });
  });

  it('reads TOO_MANY_REQUESTS with Retry-After', () => {
    const result = interpretPhotoAnswer(json(429, 'TOO_MANY_REQUESTS', 'slow down', { retryAfter: '42' }), target);
    expect(!result.ok && result.failure).toMatchObject({ kind: 'rate-limited', code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 42 });
  });

  it('reads any 429 as rate limited, whatever code comes with it', () => {
    const result = interpretPhotoAnswer(json(429, 'API_LIMIT_EXCEEDED', 'slow down', { retryAfter: '5' }), target);
    expect(!result.ok && result.failure).toMatchObject({ kind: 'rate-limited', code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 5 });
  });

  it('reads a bare 429 as rate limited', () => {
    const result = interpretPhotoAnswer({ status: 429, body: 'Too Many Requests', contentType: 'text/plain', retryAfter: null }, target);
    expect(!result.ok && result.failure).toMatchObject({ kind: 'rate-limited', retryAfterSeconds: null });
  });

  it('does not read SUCCESS with an error status as success', () => {
    expect(interpretPhotoAnswer(json(500, 'SUCCESS'), target).ok).toBe(false);
  });
});

describe('retryAfterSeconds', () => {
  it('reads delta seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterSeconds('120', now)).toBe(120);
    expect(retryAfterSeconds('Thu, 01 Jan 2026 00:01:30 GMT', now)).toBe(90);
    expect(retryAfterSeconds('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterSeconds('soon', now)).toBeNull();
    expect(retryAfterSeconds(null, now)).toBeNull();
  });
});

describe('resolutions', () => {
  it('has one for every code', () => {
    for (const code of CRM_ERROR_CODES) expect(resolutionFor(code, { moduleApiName: 'Leads' }), code).toMatch(/\w{3,}/);
  });

  it('states the limits the gateway enforces', () => {
    expect(resolutionFor('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', { moduleApiName: 'Leads' })).toBe(
      'The photo exceeds the allowed size (10 MB) or the allowed resolution (10 MP). Upload a photo within both limits.',
    );
  });
});
