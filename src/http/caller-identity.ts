import { hash, randomBytes } from 'node:crypto';
import { crmAuthorization } from '../crm/credentials.ts';
import { apiKeyMatcher } from './api-keys.ts';

/**
 * Who is calling, for sharing out the CRM slots (CRM_MAX_CONCURRENCY_PER_CALLER): the credential the caller
 * presented, else its address. A credential is kept only as a keyed hash (SHA-256 under a secret prefix made at
 * start-up and never shown), so the limiter holds no secret and a hash cannot be looked up against guessed keys elsewhere.
 *
 * - Service mode: the API key the caller was let in with (`x-api-key`, or `Authorization: Bearer <key>`): each
 *   calling system gets its own share, and a valid key cannot be dressed up as many callers with junk headers.
 * - Pass-through: the caller's CRM token (normalised, so `Bearer X` and `Zoho-oauthtoken X` are one caller). The
 *   gateway cannot verify a token: a caller that makes up a new one per connection is a new caller each time (the
 *   rate floor and the ceiling on one upload still bound what each connection holds).
 * - Neither: the client's address.
 */
export function callerIdentity(options: { serviceMode: boolean; apiKeys: readonly string[] }): (request: Request, address: string | undefined) => string {
  // SHA-256 over a secret prefix, in one call: a new Hmac object per upload cost ≈ 30 µs in the server (OpenSSL
  // context set-up; bench/FINDINGS.md), the one-shot hash well under 1. The hashes never leave the process, so what
  // the key is for holds the same: no hash can be matched against guessed credentials without the secret.
  const secret = `${randomBytes(32).toString('base64')}\u0000`;
  const hashed = (credential: string) => `credential:${hash('sha256', secret + credential, 'base64url').slice(0, 22)}`;
  const isKey = apiKeyMatcher(options.apiKeys);
  return (request, address) => {
    if (options.serviceMode) {
      const header = request.headers.get('x-api-key');
      if (header !== null && isKey(header)) return hashed(header);
      const bearer = /^Bearer[ \t]+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
      if (bearer !== undefined) return hashed(bearer);
    } else {
      const authorization = crmAuthorization(request.headers.get('authorization'));
      if (authorization !== null) return hashed(authorization);
    }
    return `address:${address ?? 'unknown'}`;
  };
}
