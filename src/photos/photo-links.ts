/**
 * Signed photo links: a download URL that carries its own permission (`…?v=…&exp=…&sig=…`), so a browser can load
 * it in an `<img src>` with no header. The signature is an HMAC-SHA256, under PHOTO_URL_SECRET, over the module, the
 * record id, the photo's version and the expiry; anyone holding the link may fetch that one photo until it expires.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Which photo a link is for. */
export interface SignedPhoto {
  moduleApiName: string;
  recordId: string;
  version: string;
}

export interface PhotoLinkSignature {
  /** Expiry, in seconds since the epoch. */
  exp: number;
  /** base64url HMAC-SHA256. */
  sig: string;
}

export type PhotoLinkCheck = 'valid' | 'expired' | 'invalid';

/** Bytes PHOTO_URL_SECRET must have at least. */
export const MIN_PHOTO_URL_SECRET_BYTES = 32;

const SIGNATURE_BYTES = 32;
const EXPIRY = /^\d{1,12}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Signs and checks photo links. Expiries fall on multiples of the TTL, so every link to a photo made within one
 * TTL window is the same URL, and browser and Apollo caches keep hitting it: a link lives between one and two TTLs.
 */
export class PhotoLinkSigner {
  readonly #key: Buffer;
  readonly #ttlSeconds: number;
  readonly #now: () => number;

  constructor(secret: string, ttlSeconds: number, now: () => number = () => Date.now()) {
    if (Buffer.byteLength(secret, 'utf8') < MIN_PHOTO_URL_SECRET_BYTES) {
      throw new RangeError(`a photo link secret needs at least ${MIN_PHOTO_URL_SECRET_BYTES} bytes`);
    }
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError('a photo link TTL is a whole number of seconds, 1 or more');
    this.#key = Buffer.from(secret, 'utf8');
    this.#ttlSeconds = ttlSeconds;
    this.#now = now;
  }

  sign(photo: SignedPhoto): PhotoLinkSignature {
    const nowSeconds = Math.floor(this.#now() / 1000);
    const exp = (Math.floor(nowSeconds / this.#ttlSeconds) + 2) * this.#ttlSeconds;
    return { exp, sig: this.#mac(photo, exp).toString('base64url') };
  }

  /** `exp` and `sig` as they came in the query (null: absent). A valid signature past its expiry is 'expired'. */
  check(photo: SignedPhoto, exp: string | null, sig: string | null): PhotoLinkCheck {
    if (exp === null || sig === null || !EXPIRY.test(exp) || !SIGNATURE.test(sig)) return 'invalid';
    const presented = Buffer.from(sig, 'base64url');
    if (presented.length !== SIGNATURE_BYTES) return 'invalid';
    const expected = this.#mac(photo, Number(exp));
    if (!timingSafeEqual(presented, expected)) return 'invalid';
    return Number(exp) * 1000 <= this.#now() ? 'expired' : 'valid';
  }

  /** Seconds a link signed with `exp` still has, for its cache lifetime. */
  secondsLeft(exp: number): number {
    return Math.max(0, exp - Math.floor(this.#now() / 1000));
  }

  #mac({ moduleApiName, recordId, version }: SignedPhoto, exp: number): Buffer {
    // JSON keeps the fields apart whatever they hold: no two photos and expiries sign the same text.
    const text = JSON.stringify(['crm-record-photo-link/1', moduleApiName, recordId, version, exp]);
    return createHmac('sha256', this.#key).update(text, 'utf8').digest();
  }
}
