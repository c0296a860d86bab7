/**
 * The CRM's accounts server (OAuth): clients, refresh tokens, the per-refresh-token minting limit and the
 * log of token-endpoint calls. Minted access tokens are registered by EmulatorState as CRM tokens.
 *
 * What it answers, as the accounts server documents it (`POST /oauth/v2/token?grant_type=refresh_token&…`):
 * - success → 200 {"access_token":"1000.<hex>","api_domain":<origin>,"token_type":"Bearer","expires_in":<s>};
 * - grant_type other than refresh_token (or none) → 200 {"error":"unsupported_grant_type"};
 * - unknown client id or wrong secret → 200 {"error":"invalid_client"};
 * - unknown or revoked refresh token, or one issued to another client → 200 {"error":"invalid_code"};
 * - more than `maxTokensPerWindow` tokens minted for one refresh token in `windowSeconds` → 400 Access Denied.
 * Revoking a refresh token stops it minting; access tokens it already minted live until they expire.
 */
import { randomBytes } from 'node:crypto';
import { PERMISSIONS, type Permission } from './permissions.ts';

export const TOKEN_PATH = '/oauth/v2/token';

export const EMULATOR_CLIENT_ID = 'emulator-client';
export const EMULATOR_CLIENT_SECRET = 'emulator-secret';
export const EMULATOR_REFRESH_TOKEN = 'emulator-refresh-token';
export const EMULATOR_REFRESH_TOKEN_SCOPES: readonly string[] = Object.freeze(['ZohoCRM.modules.ALL']);

export interface AccountsSettings {
  /** `expires_in` of minted access tokens, and how long the CRM accepts them. */
  readonly accessTokenTtlSeconds: number;
  /** Tokens one refresh token may mint within `windowSeconds`; the next one is refused (400 Access Denied). */
  readonly maxTokensPerWindow: number;
  readonly windowSeconds: number;
}

export const DEFAULT_ACCOUNTS_SETTINGS: AccountsSettings = Object.freeze({
  accessTokenTtlSeconds: 3600,
  maxTokensPerWindow: 10,
  windowSeconds: 600,
});

const SETTING_RANGES: Record<keyof AccountsSettings, readonly [number, number]> = {
  accessTokenTtlSeconds: [1, 7 * 24 * 3600],
  maxTokensPerWindow: [0, 1_000_000],
  windowSeconds: [1, 7 * 24 * 3600],
};

export interface RefreshTokenSpec {
  refreshToken: string;
  clientId: string;
  clientSecret: string;
  scopes: readonly string[];
  /** Permission of the user the refresh token belongs to; default 'granted'. */
  permission?: Permission;
}

/** A refresh token as the emulator keeps it; never sent over the control API (it holds the secret). */
interface StoredRefreshToken {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly permission: Permission;
  revoked: boolean;
}

/** Parameters of one token-endpoint call; null for a parameter the call did not send. */
export interface TokenRequestParams {
  grantType: string | null;
  clientId: string | null;
  clientSecret: string | null;
  refreshToken: string | null;
}

/**
 * How a token-endpoint call ended. Beyond the accounts server's own answers: 'invalid_request' (not a POST,
 * or a body over the size limit) and 'faulted' (an injected fault took the call over; see `fault`).
 */
export type TokenOutcome =
  | 'issued'
  | 'invalid_client'
  | 'invalid_code'
  | 'rate_limited'
  | 'unsupported_grant_type'
  | 'invalid_request'
  | 'faulted';

/** One token-endpoint call. Secrets appear only as hints (a short prefix and '…'), never whole. */
export interface TokenRequestLogEntry {
  readonly id: number;
  /** Epoch milliseconds (Date.now()). */
  readonly at: number;
  readonly method: string;
  readonly grantType: string | null;
  readonly clientId: string | null;
  readonly refreshTokenHint: string | null;
  readonly outcome: TokenOutcome;
  /** Hint of the minted access token ('1000.' and 4 hex digits, then '…'); null unless issued. */
  readonly accessTokenHint: string | null;
  /** Kind of the injected fault that hit this call (a latency fault leaves the outcome as it was). */
  readonly fault: string | null;
}

export type NewTokenRequestLogEntry = Omit<TokenRequestLogEntry, 'id' | 'at'>;

export interface MintedAccessToken {
  readonly token: string;
  readonly scopes: readonly string[];
  readonly permission: Permission;
  readonly expiresInSeconds: number;
}

export type GrantResult =
  | { readonly outcome: 'issued'; readonly minted: MintedAccessToken }
  | { readonly outcome: 'invalid_client' | 'invalid_code' | 'rate_limited' | 'unsupported_grant_type' };

/** The JSON body and HTTP status the accounts server sends for a refusal. */
export const ACCOUNTS_REFUSALS = {
  unsupported_grant_type: { httpStatus: 200, body: { error: 'unsupported_grant_type' } },
  invalid_client: { httpStatus: 200, body: { error: 'invalid_client' } },
  invalid_code: { httpStatus: 200, body: { error: 'invalid_code' } },
  rate_limited: {
    httpStatus: 400,
    body: {
      error: 'Access Denied',
      error_description: 'You have made too many requests continuously. Please try again after some time.',
      status: 'failure',
    },
  },
} as const satisfies Record<string, { httpStatus: number; body: Record<string, string> }>;

// Bounds the log, like the API request log.
export const MAX_LOGGED_TOKEN_REQUESTS = 10_000;

/** A secret's first few characters (4, fewer for a short one so it is never whole) and '…'. */
export function secretHint(secret: string | null, prefix = 4): string | null {
  if (secret === null || secret === '') return null;
  return `${secret.slice(0, Math.min(prefix, Math.floor(secret.length / 2)))}…`;
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || /\s/.test(value)) {
    throw new TypeError(`${name} must be a non-empty string without whitespace, got ${typeof value === 'string' ? `a string of ${value.length} characters` : JSON.stringify(value)}`);
  }
  return value;
}

export class Accounts {
  #clients = new Map<string, string>();
  #refreshTokens = new Map<string, StoredRefreshToken>();
  /** Mint times (epoch ms) per refresh token, oldest first, pruned to the current window. */
  #mints = new Map<string, number[]>();
  #settings: AccountsSettings = DEFAULT_ACCOUNTS_SETTINGS;
  #log: TokenRequestLogEntry[] = [];
  #nextLogId = 1;

  constructor() {
    this.reset();
  }

  /** Back to the seed: the emulator client and its refresh token, default settings, nothing minted or logged. */
  reset(): void {
    this.#clients = new Map([[EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET]]);
    this.#refreshTokens = new Map([
      [EMULATOR_REFRESH_TOKEN, { clientId: EMULATOR_CLIENT_ID, scopes: EMULATOR_REFRESH_TOKEN_SCOPES, permission: 'granted', revoked: false }],
    ]);
    this.#mints.clear();
    this.#settings = DEFAULT_ACCOUNTS_SETTINGS;
    this.#log = [];
  }

  get settings(): AccountsSettings {
    return this.#settings;
  }

  /** Changes some settings; returns all of them. Validates every field before changing any. */
  configure(changes: Partial<AccountsSettings>): AccountsSettings {
    if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
      throw new TypeError(`accounts settings must be an object, got ${JSON.stringify(changes)}`);
    }
    const next: Record<string, number> = { ...this.#settings };
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      const range = SETTING_RANGES[key as keyof AccountsSettings] as readonly [number, number] | undefined;
      if (range === undefined) {
        throw new TypeError(`unknown accounts setting '${key}' (expected ${Object.keys(SETTING_RANGES).join(', ')})`);
      }
      const [min, max] = range;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new TypeError(`accounts setting '${key}' must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
      }
      next[key] = value;
    }
    this.#settings = Object.freeze(next as unknown as AccountsSettings);
    return this.#settings;
  }

  /** Adds a client (or reuses one with the same secret) and a refresh token for it; replaces a refresh token of that value. */
  addRefreshToken(spec: RefreshTokenSpec): void {
    const refreshToken = nonEmpty('refreshToken', spec.refreshToken);
    const clientId = nonEmpty('clientId', spec.clientId);
    const clientSecret = nonEmpty('clientSecret', spec.clientSecret);
    if (!Array.isArray(spec.scopes) || !spec.scopes.every((s) => typeof s === 'string')) {
      throw new TypeError(`scopes must be an array of strings, got ${JSON.stringify(spec.scopes)}`);
    }
    const permission = spec.permission ?? 'granted';
    if (!PERMISSIONS.includes(permission)) {
      throw new TypeError(`permission must be one of ${PERMISSIONS.join(', ')}, got ${JSON.stringify(permission)}`);
    }
    const known = this.#clients.get(clientId);
    if (known !== undefined && known !== clientSecret) {
      // Silently rotating a secret would turn another test's client invalid; say so instead.
      throw new RangeError(`client ${JSON.stringify(clientId)} already exists with a different secret`);
    }
    this.#clients.set(clientId, clientSecret);
    this.#refreshTokens.set(refreshToken, { clientId, scopes: Object.freeze([...spec.scopes]), permission, revoked: false });
    this.#mints.delete(refreshToken);
  }

  /** Revokes a refresh token: it answers invalid_code from now on. Throws for an unknown one. */
  revokeRefreshToken(refreshToken: string): void {
    const stored = typeof refreshToken === 'string' ? this.#refreshTokens.get(refreshToken) : undefined;
    if (stored === undefined) throw new RangeError(`unknown refresh token ${JSON.stringify(secretHint(String(refreshToken)))}`);
    stored.revoked = true;
  }

  /** Decides a refresh grant the way the accounts server does, in its order; records the mint when issued. */
  grant(params: TokenRequestParams, now = Date.now()): GrantResult {
    if (params.grantType !== 'refresh_token') return { outcome: 'unsupported_grant_type' };
    const secret = params.clientId === null ? undefined : this.#clients.get(params.clientId);
    if (secret === undefined || params.clientSecret !== secret) return { outcome: 'invalid_client' };
    const stored = params.refreshToken === null ? undefined : this.#refreshTokens.get(params.refreshToken);
    if (stored === undefined || stored.revoked || stored.clientId !== params.clientId) return { outcome: 'invalid_code' };

    const refreshToken = params.refreshToken!;
    const windowStart = now - this.#settings.windowSeconds * 1000;
    const mints = (this.#mints.get(refreshToken) ?? []).filter((at) => at > windowStart);
    this.#mints.set(refreshToken, mints);
    if (mints.length >= this.#settings.maxTokensPerWindow) return { outcome: 'rate_limited' };
    mints.push(now);
    return {
      outcome: 'issued',
      minted: {
        token: `1000.${randomBytes(32).toString('hex')}`,
        scopes: stored.scopes,
        permission: stored.permission,
        expiresInSeconds: this.#settings.accessTokenTtlSeconds,
      },
    };
  }

  get tokenRequests(): readonly TokenRequestLogEntry[] {
    return this.#log;
  }

  logTokenRequest(entry: NewTokenRequestLogEntry): TokenRequestLogEntry {
    const logged: TokenRequestLogEntry = Object.freeze({ id: this.#nextLogId++, at: Date.now(), ...entry });
    this.#log.push(logged);
    if (this.#log.length > MAX_LOGGED_TOKEN_REQUESTS) this.#log.shift();
    return logged;
  }
}
