import { describe, expect, it } from 'vitest';
import { PhotoLinkSigner } from '../../src/photos/photo-links.ts';
import { photoUrl } from '../../src/photos/photo-url.ts';

const SECRET = 'a-photo-link-secret-of-32-bytes!';
const photo = { moduleApiName: 'Leads', recordId: '1000000000001', version: '5000000012345' };

function signerAt(now: { ms: number }, ttlSeconds = 3600) {
  return new PhotoLinkSigner(SECRET, ttlSeconds, () => now.ms);
}

describe('PhotoLinkSigner', () => {
  it('signs a link its own check accepts, with an expiry on a TTL boundary one to two TTLs ahead', () => {
    const now = { ms: 1_800_000_123_456 };
    const signer = signerAt(now);
    const { exp, sig } = signer.sign(photo);
    expect(exp % 3600).toBe(0);
    expect(exp * 1000 - now.ms).toBeGreaterThan(3600 * 1000);
    expect(exp * 1000 - now.ms).toBeLessThanOrEqual(2 * 3600 * 1000);
    expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(signer.check(photo, String(exp), sig)).toBe('valid');
  });

  it('gives every link made within one TTL window the same URL, so caches hit', () => {
    const now = { ms: 1_800_000_000_000 };
    const signer = signerAt(now);
    const first = signer.sign(photo);
    now.ms += 1000;
    expect(signer.sign(photo)).toEqual(first);
  });

  it('refuses a link once its expiry has passed, and says so apart from a bad signature', () => {
    const now = { ms: 1_800_000_000_000 };
    const signer = signerAt(now, 60);
    const { exp, sig } = signer.sign(photo);
    now.ms = exp * 1000 - 1;
    expect(signer.check(photo, String(exp), sig)).toBe('valid');
    now.ms = exp * 1000;
    expect(signer.check(photo, String(exp), sig)).toBe('expired');
  });

  it('refuses any change to the module, record, version, expiry or signature', () => {
    const now = { ms: 1_800_000_000_000 };
    const signer = signerAt(now);
    const { exp, sig } = signer.sign(photo);
    expect(signer.check({ ...photo, moduleApiName: 'Contacts' }, String(exp), sig)).toBe('invalid');
    expect(signer.check({ ...photo, recordId: '1000000000002' }, String(exp), sig)).toBe('invalid');
    expect(signer.check({ ...photo, version: '5000000012346' }, String(exp), sig)).toBe('invalid');
    expect(signer.check(photo, String(exp + 3600), sig)).toBe('invalid');
    const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect(signer.check(photo, String(exp), flipped)).toBe('invalid');
    expect(signer.check(photo, String(exp), null)).toBe('invalid');
    expect(signer.check(photo, null, sig)).toBe('invalid');
    expect(signer.check(photo, `${exp}.0`, sig)).toBe('invalid');
    expect(signer.check(photo, String(exp), `${sig}A`)).toBe('invalid');
  });

  it('keeps fields apart: the same characters split differently sign differently', () => {
    const now = { ms: 1_800_000_000_000 };
    const signer = signerAt(now);
    const { exp, sig } = signer.sign({ moduleApiName: 'Leads', recordId: '1', version: '23' });
    expect(signer.check({ moduleApiName: 'Leads', recordId: '12', version: '3' }, String(exp), sig)).toBe('invalid');
  });

  it('does not take a link signed with another secret', () => {
    const now = { ms: 1_800_000_000_000 };
    const other = new PhotoLinkSigner('another-secret-that-is-32-bytes!', 3600, () => now.ms);
    const { exp, sig } = other.sign(photo);
    expect(signerAt(now).check(photo, String(exp), sig)).toBe('invalid');
  });

  it('refuses a secret under 32 bytes', () => {
    expect(() => new PhotoLinkSigner('x'.repeat(31), 3600)).toThrow(/32 bytes/);
    expect(() => new PhotoLinkSigner('é'.repeat(16), 3600)).not.toThrow(); // 32 bytes in UTF-8
  });

  it('counts the seconds a link has left, for its cache lifetime', () => {
    const now = { ms: 1_800_000_000_500 };
    const signer = signerAt(now);
    expect(signer.secondsLeft(1_800_000_100)).toBe(100);
    expect(signer.secondsLeft(1_799_999_000)).toBe(0);
  });
});

describe('photoUrl with a signer', () => {
  it('puts exp and sig after v, and the link checks out', () => {
    const now = { ms: 1_800_000_000_000 };
    const signer = signerAt(now);
    const url = photoUrl(photo, { publicUrl: 'https://api.example.com/crm', signer });
    const parsed = new URL(url);
    expect(`${parsed.origin}${parsed.pathname}`).toBe('https://api.example.com/crm/photos/Leads/1000000000001');
    expect([...parsed.searchParams.keys()]).toEqual(['v', 'exp', 'sig']);
    expect(signer.check(photo, parsed.searchParams.get('exp'), parsed.searchParams.get('sig'))).toBe('valid');
  });

  it('leaves the link unsigned without one', () => {
    expect(photoUrl(photo, { publicUrl: null, signer: null })).toBe('/photos/Leads/1000000000001?v=5000000012345');
  });
});
