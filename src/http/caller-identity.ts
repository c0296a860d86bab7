import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { crmAuthorization } from '../crm/credentials.ts';
import { apiKeyMatcher } from './api-keys.ts';

/**
 * Who is calling, for sharing out the CRM slots (CRM_MAX_CONCURRENCY_PER_CALLER): the credential the caller
 * presented, else its address. A credential is kept only as a keyed hash (HMAC-SHA-256 under a key made at start-up
 * and never shown), so the limiter holds no secret and a hash cannot be looked up against guessed keys elsewhere.
 *
 * - Service mode: the API key the caller was let in with (`x-api-key`, or `Authorization: Bearer <key>`): each
 *   calling system gets its own share, and a valid key cannot be dressed up as many callers with junk headers.
 * - Pass-through: the caller's CRM token (normalised, so `Bearer X` and `Zoho-oauthtoken X` are one caller). The
 *   gateway cannot verify a token: a caller that makes up a new one per connection is a new caller each time (the
 *   rate floor and the ceiling on one upload still bound what each connection holds).
 * - Neither: the client's address.
 */
export function callerIdentity(options: { serviceMode: boolean; apiKeys: readonly string[] }): (request: Request, address: string | undefined) => string {
  // A KeyObject made once: an HMAC under it costs a few µs, under a raw Buffer (imported anew each call) about 30.
  const key = createSecretKey(randomBytes(32));
  const hash = (credential: string) => `credential:${createHmac('sha256', key).update(credential, 'utf8').digest('base64url').slice(0, 22)}`;
  const isKey = apiKeyMatcher(options.apiKeys);
  return (request, address) => {
    if (options.serviceMode) {
      const header = request.headers.get('x-api-key');
      if (header !== null && isKey(header)) return hash(header);
      const bearer = /^Bearer[ \t]+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
      if (bearer !== undefined) return hash(bearer);
    } else {
      const authorization = crmAuthorization(request.headers.get('authorization'));
      if (authorization !== null) return hash(authorization);
    }
    return `address:${address ?? 'unknown'}`;
  };
}
