import { describe, expect, it } from 'vitest';
import { readCrmAnswer, redactCredential } from '../../src/crm/answers.ts';

describe('redactCredential', () => {
  const header = 'Zoho-oauthtoken 1000.0123456789abcdef';

  it('masks the header as sent, and the token alone', () => {
    expect(redactCredential(`got Authorization: ${header}`, header)).toBe('got Authorization: [redacted]');
    expect(redactCredential('token 1000.0123456789abcdef is bad; again 1000.0123456789abcdef', header)).toBe('token [redacted] is bad; again [redacted]');
  });

  it('leaves a short token alone unless it comes with its scheme', () => {
    expect(redactCredential('abc and Zoho-oauthtoken abc', 'Zoho-oauthtoken abc')).toBe('abc and [redacted]');
  });

  it('masks the code, the message and the content type read from an answer', () => {
    const body = JSON.stringify({ code: 'X_1000.0123456789abcdef', message: `echo ${header}` });
    expect(readCrmAnswer({ status: 400, contentType: 'application/json', retryAfter: null, body }, { sentAuthorization: header })).toMatchObject({
      shape: 'crm',
      code: 'X_[redacted]',
      message: 'echo [redacted]',
    });
    const other = readCrmAnswer({ status: 502, contentType: `text/html; ${header}`, retryAfter: null, body: '<html>' }, { sentAuthorization: header });
    expect(other).toMatchObject({ shape: 'other' });
    expect(JSON.stringify(other)).not.toContain('0123456789abcdef');
  });
});
