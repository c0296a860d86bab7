/**
 * Where the CRM access token for a call comes from. Pass-through today; a service-held token
 * (minted from a refresh token, shared by replicas) implements the same interface.
 */
export interface CredentialProvider {
  /** The Authorization header to send to the CRM, or null when the caller brought no usable credentials. */
  authorizationFor(callerAuthorization: string | null): Promise<string | null>;
}

const SCHEME = /^(zoho-oauthtoken|bearer)[ \t]+(\S+)[ \t]*$/i;

/** `Zoho-oauthtoken X` goes as is; `Bearer X` becomes `Zoho-oauthtoken X`; anything else is no credentials. */
export function crmAuthorization(callerAuthorization: string | null): string | null {
  const match = callerAuthorization ? SCHEME.exec(callerAuthorization.trim()) : null;
  return match ? `Zoho-oauthtoken ${match[2]}` : null;
}

export class PassThroughCredentials implements CredentialProvider {
  async authorizationFor(callerAuthorization: string | null): Promise<string | null> {
    return crmAuthorization(callerAuthorization);
  }
}
