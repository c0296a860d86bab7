/** The Authorization header for one CRM call, or why there is none. */
export type CrmCredential =
  | { ok: true; authorization: string }
  | { ok: false; reason: 'missing' }
  /** Service mode could not obtain a token (refresh refused, accounts server down); `detail` holds no secret. */
  | { ok: false; reason: 'unavailable'; detail: string };

/**
 * Where the CRM access token for a call comes from: the caller's own (pass-through), or one the
 * gateway mints from its organisation's refresh token (service mode).
 */
export interface CredentialProvider {
  authorizationFor(callerAuthorization: string | null): Promise<CrmCredential>;
  /** The CRM answered INVALID_TOKEN for this header: a cached token must not be used again. */
  rejected(authorization: string): void;
  /** Whether calls can get a credential now (service mode: a token is in hand or can be minted); absent: always. */
  readiness?(): Promise<{ ready: true } | { ready: false; reason: string }>;
}

const SCHEME = /^(zoho-oauthtoken|bearer)[ \t]+(\S+)[ \t]*$/i;

/** `Zoho-oauthtoken X` goes as is; `Bearer X` becomes `Zoho-oauthtoken X`; anything else is no credentials. */
export function crmAuthorization(callerAuthorization: string | null): string | null {
  const match = callerAuthorization ? SCHEME.exec(callerAuthorization.trim()) : null;
  return match ? `Zoho-oauthtoken ${match[2]}` : null;
}

export class PassThroughCredentials implements CredentialProvider {
  async authorizationFor(callerAuthorization: string | null): Promise<CrmCredential> {
    const authorization = crmAuthorization(callerAuthorization);
    return authorization === null ? { ok: false, reason: 'missing' } : { ok: true, authorization };
  }

  rejected(): void {
    // The caller owns its token; nothing is cached here.
  }

}
