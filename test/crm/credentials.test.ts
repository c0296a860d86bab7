import { describe, expect, it } from 'vitest';
import { crmAuthorization } from '../../src/crm/credentials.ts';

describe('crmAuthorization', () => {
  it.each([
    ['Zoho-oauthtoken 1000.abc.def', 'Zoho-oauthtoken 1000.abc.def'],
    ['zoho-oauthtoken 1000.abc', 'Zoho-oauthtoken 1000.abc'],
    ['Bearer 1000.abc', 'Zoho-oauthtoken 1000.abc'],
    ['bearer   1000.abc  ', 'Zoho-oauthtoken 1000.abc'],
  ])('%j → %j', (header, expected) => {
    expect(crmAuthorization(header)).toBe(expected);
  });

  it.each([null, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Zoho-oauthtoken a b', 'token-without-scheme'])(
    'treats %j as no credentials',
    (header) => {
      expect(crmAuthorization(header)).toBeNull();
    },
  );
});
