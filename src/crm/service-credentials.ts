import { AccountsError, type AccountsClient, type MintedToken } from './accounts-client.ts';
import type { CredentialProvider, CrmCredential } from './credentials.ts';
import type { CrmObserver } from './observer.ts';
import type { SharedTokenStore } from './shared-token.ts';

/** Service mode: the gateway holds one organisation's OAuth client and mints its own access tokens. */
export interface ServiceCredentialsSettings {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

const MAX_REFRESH_MARGIN_MS = 5 * 60_000;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

/**
 * Service mode: one organisation's token, minted from its refresh token, cached until shortly before
 * it expires, and refreshed once however many calls need it at that moment (the CRM limits how many
 * tokens a refresh token may mint). A failed refresh backs off before the next attempt.
 *
 * With a shared store (REDIS_URL), "once" holds across replicas: the token is read from Redis for each call, one
 * replica refreshes it for all, and an INVALID_TOKEN drops it for all. While Redis is unreachable this replica
 * keeps the last token it read and refreshes on its own, as without Redis.
 */
export class ServiceCredentials implements CredentialProvider {
  readonly #settings: ServiceCredentialsSettings & { accountsUrl: string };
  readonly #accounts: AccountsClient;
  readonly #now: () => number;
  readonly #observer: CrmObserver | undefined;
  readonly #shared: SharedTokenStore | undefined;
  #token: MintedToken | null = null;
  #refreshing: Promise<MintedToken> | null = null;
  #backoff: { until: number; delayMs: number; error: AccountsError } | null = null;

  constructor(
    settings: ServiceCredentialsSettings & { accountsUrl: string },
    accounts: AccountsClient,
    now = Date.now,
    observer?: CrmObserver,
    shared?: SharedTokenStore,
  ) {
    this.#shared = shared;
    this.#settings = settings;
    this.#accounts = accounts;
    this.#now = now;
    this.#observer = observer;
  }

  async authorizationFor(): Promise<CrmCredential> {
    try {
      await this.#readShared();
      let token = this.#fresh();
      if (token === null) {
        // One refresh in flight at a time; everyone who needs a token meanwhile waits on it.
        this.#refreshing ??= this.#refresh().finally(() => {
          this.#refreshing = null;
        });
        token = await this.#refreshing.catch((error: unknown) => {
          const fallback = this.#stillValid();
          if (fallback) return fallback;
          throw error;
        });
      }
      return { ok: true, authorization: `Zoho-oauthtoken ${token.accessToken}` };
    } catch (error) {
      const detail = error instanceof AccountsError ? error.message : 'the token refresh failed';
      return { ok: false, reason: 'unavailable', detail };
    }
  }

  /** Ready once a token is in hand; asking mints one if needed, within the refresh back-off, so probes cause no stampede. */
  async readiness(): Promise<{ ready: true } | { ready: false; reason: string }> {
    const credential = await this.authorizationFor();
    return credential.ok ? { ready: true } : { ready: false, reason: `no CRM access token: ${credential.ok === false && credential.reason === 'unavailable' ? credential.detail : 'unavailable'}` };
  }

  rejected(authorization: string): void {
    if (this.#token && authorization === `Zoho-oauthtoken ${this.#token.accessToken}`) {
      const { accessToken } = this.#token;
      this.#token = null;
      // Once for all replicas: only while Redis still holds this very token (Redis away: the key expires with it).
      this.#shared?.drop(accessToken).catch(() => {});
    }
  }

  /** The shared token, when Redis is there to ask: it replaces ours (none there: another replica dropped it). */
  async #readShared(): Promise<void> {
    if (!this.#shared?.available) return;
    try {
      this.#token = await this.#shared.read();
    } catch {
      // Redis failed on the way: the last token we read stands.
    }
  }

  /** The cached token while it is not yet due for renewal. */
  #fresh(): MintedToken | null {
    const token = this.#token;
    return token && this.#isFresh(token) ? token : null;
  }

  /** Not yet due for renewal: due a tenth of its life (at most 5 minutes) before expiry. */
  #isFresh(token: MintedToken): boolean {
    const margin = Math.min(MAX_REFRESH_MARGIN_MS, (token.expiresAt - token.mintedAt) / 10);
    return this.#now() < token.expiresAt - margin;
  }

  /** A token past its renewal point but not yet expired: still usable while a refresh fails. */
  #stillValid(): MintedToken | null {
    const token = this.#token;
    return token && this.#now() < token.expiresAt ? token : null;
  }

  async #refresh(): Promise<MintedToken> {
    try {
      if (this.#backoff && this.#now() < this.#backoff.until) throw this.#backoff.error;
      const token = await this.#obtain();
      this.#token = token;
      this.#backoff = null;
      return token;
    } catch (error) {
      const failure = error instanceof AccountsError ? error : new AccountsError('the token refresh failed');
      // A refusal replayed from the back-off is not a new attempt.
      if (this.#backoff?.error !== failure) {
        this.#observer?.tokenRefreshEnded?.('failure');
        const delayMs = this.#backoff ? Math.min(this.#backoff.delayMs * 2, MAX_BACKOFF_MS) : FIRST_BACKOFF_MS;
        this.#backoff = { until: this.#now() + delayMs, delayMs, error: failure };
      }
      throw failure;
    }
  }

  /** A token from the one refresh across replicas (Redis), or minted here when Redis is away or fails on the way. */
  async #obtain(): Promise<MintedToken> {
    const shared = this.#shared;
    if (shared?.available) {
      let minted: MintedToken | null = null;
      try {
        return await shared.refresh(async () => (minted = await this.#mint()), (token) => this.#isFresh(token));
      } catch (error) {
        if (error instanceof AccountsError) throw error;
        // Redis failed (or the mutex wait ran out): a token minted meanwhile is used, else this replica mints its own.
        if (minted) return minted;
      }
    }
    return this.#mint();
  }

  async #mint(): Promise<MintedToken> {
    const { accountsUrl, clientId, clientSecret, refreshToken } = this.#settings;
    const token = await this.#accounts.refresh({ accountsUrl, clientId, clientSecret, refreshToken });
    this.#observer?.tokenRefreshEnded?.('success');
    return token;
  }
}
