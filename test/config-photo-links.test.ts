import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const SERVICE = {
  ZOHO_CLIENT_ID: 'client',
  ZOHO_CLIENT_SECRET: 'client-secret',
  ZOHO_REFRESH_TOKEN: 'refresh-token',
  GATEWAY_API_KEYS: 'service-caller-key-0123456789',
};
const SECRET = 'photo-link-secret-for-tests-0123456789';

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('PHOTO_URL_SECRET and PHOTO_URL_TTL_SECONDS', () => {
  it('signs nothing by default', () => {
    expect(loadConfig({}).photoLinks).toBeNull();
    expect(loadConfig(SERVICE).photoLinks).toBeNull();
  });

  it('takes a secret of 32 bytes or more in service mode, as it is, with a TTL of an hour by default', () => {
    expect(loadConfig({ ...SERVICE, PHOTO_URL_SECRET: SECRET }).photoLinks).toEqual({ secret: SECRET, ttlSeconds: 3600 });
    expect(loadConfig({ ...SERVICE, PHOTO_URL_SECRET: SECRET, PHOTO_URL_TTL_SECONDS: '300' }).photoLinks?.ttlSeconds).toBe(300);
  });

  it('refuses a short secret without ever echoing it', () => {
    const error = refusal({ ...SERVICE, PHOTO_URL_SECRET: 'short-secret-value' });
    expect(error.variable).toBe('PHOTO_URL_SECRET');
    expect(error.message).toBe('PHOTO_URL_SECRET must be at least 32 bytes long');
    expect(error.message).not.toContain('short-secret-value');
  });

  it('refuses a secret in pass-through mode, which never signs, without echoing it', () => {
    const error = refusal({ PHOTO_URL_SECRET: SECRET });
    expect(error.variable).toBe('PHOTO_URL_SECRET');
    expect(error.message).toMatch(/only applies in service mode/);
    expect(error.message).not.toContain(SECRET);
  });

  it.each(['0', '-1', 'soon', '31536001'])('refuses PHOTO_URL_TTL_SECONDS=%s', (ttl) => {
    expect(refusal({ ...SERVICE, PHOTO_URL_SECRET: SECRET, PHOTO_URL_TTL_SECONDS: ttl }).variable).toBe('PHOTO_URL_TTL_SECONDS');
  });
});
