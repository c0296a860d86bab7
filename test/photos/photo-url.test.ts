import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { photoUrl } from '../../src/photos/photo-url.ts';

const photo = { moduleApiName: 'Leads', recordId: '1000000000001', version: '2cceafa194d037b63f2181dd818' };

describe('photoUrl', () => {
  it('is path-relative without PUBLIC_URL', () => {
    expect(photoUrl(photo, { publicUrl: null })).toBe('/photos/Leads/1000000000001?v=2cceafa194d037b63f2181dd818');
  });

  it('starts with PUBLIC_URL, path prefix included', () => {
    expect(photoUrl(photo, { publicUrl: 'https://api.example.com' })).toBe('https://api.example.com/photos/Leads/1000000000001?v=2cceafa194d037b63f2181dd818');
    expect(photoUrl(photo, { publicUrl: 'https://api.example.com/crm' })).toBe('https://api.example.com/crm/photos/Leads/1000000000001?v=2cceafa194d037b63f2181dd818');
  });

  it('encodes each part', () => {
    expect(photoUrl({ moduleApiName: 'Site_Visits', recordId: '1/2', version: 'a&b=c' }, { publicUrl: null })).toBe('/photos/Site_Visits/1%2F2?v=a%26b%3Dc');
  });
});

describe('PUBLIC_URL', () => {
  it('is unset by default', () => {
    expect(loadConfig({}).publicUrl).toBeNull();
  });

  it.each([
    ['https://api.example.com', 'https://api.example.com'],
    ['https://api.example.com/', 'https://api.example.com'],
    ['https://API.example.com:8443/crm/photos/', 'https://api.example.com:8443/crm/photos'],
    ['http://localhost:4000', 'http://localhost:4000'],
  ])('%s → %s', (raw, publicUrl) => {
    expect(loadConfig({ PUBLIC_URL: raw }).publicUrl).toBe(publicUrl);
  });

  it.each([
    ['api.example.com', /http\(s\) URL/],
    ['ftp://api.example.com', /http\(s\) URL/],
    ['https://api.example.com/?x=1', /no query or fragment/],
    ['https://api.example.com/#top', /no query or fragment/],
    ['https://user:secret@api.example.com', /user name or password/],
  ])('refuses %s', (raw, message) => {
    let thrown: unknown;
    try {
      loadConfig({ PUBLIC_URL: raw });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe('PUBLIC_URL');
    expect((thrown as ConfigError).message).toMatch(message);
    expect((thrown as ConfigError).message).not.toContain('secret');
  });
});
