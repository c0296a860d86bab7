/** Everything the emulator remembers: tokens, records, locks, photos, faults, the request log and the accounts server. */
import { randomBytes } from 'node:crypto';
import {
  ACCOUNTS_REFUSALS,
  Accounts,
  secretHint,
  type AccountsSettings,
  type RefreshTokenSpec,
  type TokenRequestLogEntry,
  type TokenRequestParams,
} from './accounts.ts';
import { FaultQueue, type Fault, type FaultSpec } from './faults.ts';
import { resolveModule, STANDARD_MODULES, validateCustomModules, type ModuleResolution } from './modules.ts';

export const EMULATOR_TOKEN = 'emulator-token';

/** Seeded record ids: 1000000000001 … 1000000000010, present in every module. */
export const SEEDED_RECORD_IDS: readonly string[] = Array.from({ length: 10 }, (_, i) => String(1_000_000_000_001 + i));

// Bounds the log so a long-running emulator does not grow without end; tests stay far below it.
export const MAX_LOGGED_REQUESTS = 10_000;

import { PERMISSIONS, type Permission } from './permissions.ts';

export { PERMISSIONS, type Permission };
export {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  EMULATOR_REFRESH_TOKEN,
  type AccountsSettings,
  type RefreshTokenSpec,
  type TokenOutcome,
  type TokenRequestLogEntry,
  type TokenRequestParams,
} from './accounts.ts';

export interface TokenSpec {
  token: string;
  scopes: readonly string[];
  permission?: Permission;
}

export interface TokenGrant {
  readonly token: string;
  readonly scopes: readonly string[];
  readonly permission: Permission;
}

export interface StoredPhoto {
  readonly bytes: Buffer;
  /** The part's file name as sent, or null when the part had none. */
  readonly filename: string | null;
  /** The part's Content-Type as sent (type/subtype; `text/plain` when the part had none). */
  readonly contentType: string;
  readonly size: number;
  /** The `restrict_triggers` query value, or null when absent. */
  readonly restrictTriggers: string | null;
  /** Epoch milliseconds (Date.now()). */
  readonly uploadedAt: number;
  /** The record's Record_Image while this photo is on it: an opaque id, new with every upload. */
  readonly recordImage: string;
  /** What the CRM read of the photo: its pixels, and (JPEG) its EXIF orientation and whether it carries a position. */
  readonly width?: number;
  readonly height?: number;
  readonly orientation?: number | null;
  readonly gps?: boolean;
}

export interface LoggedFile {
  filename: string | null;
  contentType: string;
  /** Bytes the file part carried (counted in full even past the size limit). */
  size: number;
}

/** One API request; times are epoch milliseconds from Date.now(). Mutated live while the request runs. */
export interface RequestLogEntry {
  readonly id: number;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly authorization: string | null;
  readonly contentType: string | null;
  readonly transferEncoding: string | null;
  readonly contentLength: string | null;
  /** The W3C `traceparent` the caller sent, or null: shows a traced gateway passes its trace on. */
  readonly traceparent: string | null;
  state: 'receiving' | 'answered' | 'aborted';
  /** Body bytes received so far (after transfer decoding), updated as chunks arrive. */
  bytesReceived: number;
  file: LoggedFile | null;
  status: number | null;
  code: string | null;
  readonly startedAt: number;
  firstByteAt: number | null;
  endedAt: number | null;
}

export type NewRequest = Pick<
  RequestLogEntry,
  'method' | 'path' | 'query' | 'authorization' | 'contentType' | 'transferEncoding' | 'contentLength' | 'traceparent'
>;

/** A log entry for a request that has just arrived. */
export function newLogEntry(id: number, request: NewRequest): RequestLogEntry {
  return {
    id,
    ...request,
    state: 'receiving',
    bytesReceived: 0,
    file: null,
    status: null,
    code: null,
    startedAt: Date.now(),
    firstByteAt: null,
    endedAt: null,
  };
}

/** What the token endpoint answers for one call: HTTP status and JSON body. */
export interface TokenEndpointAnswer {
  readonly httpStatus: number;
  readonly body: Readonly<Record<string, string | number>>;
  readonly outcome: TokenRequestLogEntry['outcome'];
}

export interface TokenCallContext {
  /** The `api_domain` to name in a success answer: the emulator's own origin. */
  apiDomain: string;
  /** HTTP method, for the token log; default POST. */
  method?: string;
  /** Kind of an injected fault that let the call through (latency), for the token log. */
  fault?: string | null;
}

export interface EmulatorStateOptions {
  customModules?: readonly string[];
}

const SEEDED_TOKEN: TokenGrant = { token: EMULATOR_TOKEN, scopes: ['ZohoCRM.modules.ALL'], permission: 'granted' };

export class EmulatorState {
  /** API names of the configured custom modules. */
  readonly customModules: readonly string[];
  #tokens = new Map<string, TokenGrant>();
  /** Expiry (epoch ms) of tokens that expire: minted ones, and any expired through expireToken(). */
  #expiries = new Map<string, number>();
  #accounts = new Accounts();
  #locks = new Set<string>();
  #photos = new Map<string, StoredPhoto>();
  #faults = new FaultQueue();
  #requests: RequestLogEntry[] = [];
  #nextRequestId = 1;

  constructor(options: EmulatorStateOptions = {}) {
    this.customModules = Object.freeze(validateCustomModules(options.customModules ?? []));
    this.reset();
  }

  /** API names of every module that takes photos. */
  get modules(): readonly string[] {
    return [...STANDARD_MODULES, ...this.customModules];
  }

  /** The request log in arrival order (live entries; copy before keeping). */
  get requests(): readonly RequestLogEntry[] {
    return this.#requests;
  }

  /**
   * Back to the seed: only the demo token, the emulator OAuth client and its refresh token, default accounts
   * settings; no locks, photos, faults, minted tokens or logged requests.
   */
  reset(): void {
    this.#tokens = new Map([[SEEDED_TOKEN.token, SEEDED_TOKEN]]);
    this.#expiries.clear();
    this.#accounts.reset();
    this.#locks.clear();
    this.#photos.clear();
    this.#faults.clear();
    this.#requests = [];
  }

  addToken(spec: TokenSpec): TokenGrant {
    if (typeof spec.token !== 'string' || spec.token.length === 0 || /\s/.test(spec.token)) {
      throw new TypeError(`token must be a non-empty string without whitespace, got ${JSON.stringify(spec.token)}`);
    }
    if (!Array.isArray(spec.scopes) || !spec.scopes.every((s) => typeof s === 'string')) {
      throw new TypeError(`scopes must be an array of strings, got ${JSON.stringify(spec.scopes)}`);
    }
    const permission = spec.permission ?? 'granted';
    if (!PERMISSIONS.includes(permission)) {
      throw new TypeError(`permission must be one of ${PERMISSIONS.join(', ')}, got ${JSON.stringify(permission)}`);
    }
    const grant: TokenGrant = { token: spec.token, scopes: Object.freeze([...spec.scopes]), permission };
    this.#tokens.set(grant.token, grant);
    this.#expiries.delete(grant.token); // an added token does not expire
    return grant;
  }

  /** The grant of a token the CRM accepts now; undefined for an unknown or expired one. */
  token(token: string): TokenGrant | undefined {
    const expiresAt = this.#expiries.get(token);
    if (expiresAt !== undefined && expiresAt <= Date.now()) return undefined;
    return this.#tokens.get(token);
  }

  /** When a token stops being accepted (epoch ms); undefined for a token that does not expire or is unknown. */
  tokenExpiresAt(token: string): number | undefined {
    return this.#tokens.has(token) ? this.#expiries.get(token) : undefined;
  }

  /** Expires a token now (the CRM answers 401 INVALID_TOKEN for it); throws for an unknown or expired one. */
  expireToken(token: string): void {
    if (typeof token !== 'string' || this.token(token) === undefined) {
      throw new RangeError(`no live token ${JSON.stringify(secretHint(typeof token === 'string' ? token : String(token)))}`);
    }
    this.#expiries.set(token, Date.now());
  }

  // ---- the accounts server ----

  get accountsSettings(): AccountsSettings {
    return this.#accounts.settings;
  }

  /** Changes some accounts settings (TTL, minting limit, window); returns all of them. */
  configureAccounts(changes: Partial<AccountsSettings>): AccountsSettings {
    return this.#accounts.configure(changes);
  }

  /** Adds an OAuth client (or reuses one with the same secret) with a refresh token. */
  addRefreshToken(spec: RefreshTokenSpec): void {
    this.#accounts.addRefreshToken(spec);
  }

  /** The refresh token answers invalid_code from now on; tokens it minted live until they expire. */
  revokeRefreshToken(refreshToken: string): void {
    this.#accounts.revokeRefreshToken(refreshToken);
  }

  /**
   * The token endpoint in process: decides a refresh grant, registers a minted token as a CRM token that
   * expires after the TTL, logs the call, and returns the answer the HTTP endpoint sends.
   */
  requestAccessToken(params: TokenRequestParams, context: TokenCallContext): TokenEndpointAnswer {
    const now = Date.now();
    const result = this.#accounts.grant(params, now);
    let answer: TokenEndpointAnswer;
    let accessTokenHint: string | null = null;
    if (result.outcome === 'issued') {
      const { minted } = result;
      this.#dropExpiredTokens(now);
      this.#tokens.set(minted.token, { token: minted.token, scopes: minted.scopes, permission: minted.permission });
      this.#expiries.set(minted.token, now + minted.expiresInSeconds * 1000);
      accessTokenHint = secretHint(minted.token, 9);
      answer = {
        httpStatus: 200,
        body: { access_token: minted.token, api_domain: context.apiDomain, token_type: 'Bearer', expires_in: minted.expiresInSeconds },
        outcome: 'issued',
      };
    } else {
      const refusal = ACCOUNTS_REFUSALS[result.outcome];
      answer = { httpStatus: refusal.httpStatus, body: refusal.body, outcome: result.outcome };
    }
    this.logTokenRequest(context.method ?? 'POST', params, answer.outcome, context.fault ?? null, accessTokenHint);
    return answer;
  }

  /** Appends a token-endpoint call to the token log, with its secrets reduced to hints. */
  logTokenRequest(
    method: string,
    params: TokenRequestParams,
    outcome: TokenRequestLogEntry['outcome'],
    fault: string | null = null,
    accessTokenHint: string | null = null,
  ): TokenRequestLogEntry {
    return this.#accounts.logTokenRequest({
      method,
      grantType: params.grantType,
      clientId: params.clientId,
      refreshTokenHint: secretHint(params.refreshToken),
      outcome,
      accessTokenHint,
      fault,
    });
  }

  /** Every token-endpoint call in arrival order. */
  get tokenRequests(): readonly TokenRequestLogEntry[] {
    return this.#accounts.tokenRequests;
  }

  #dropExpiredTokens(now: number): void {
    for (const [token, expiresAt] of this.#expiries) {
      if (expiresAt <= now) {
        this.#expiries.delete(token);
        this.#tokens.delete(token);
      }
    }
  }

  resolveModule(segment: string): ModuleResolution {
    return resolveModule(segment, this.customModules);
  }

  recordExists(module: string, recordId: string): boolean {
    return this.#apiName(module) !== undefined && SEEDED_RECORD_IDS.includes(recordId);
  }

  lock(module: string, recordId: string): void {
    this.#locks.add(this.#recordKey(module, recordId));
  }

  unlock(module: string, recordId: string): void {
    this.#locks.delete(this.#recordKey(module, recordId));
  }

  isLocked(module: string, recordId: string): boolean {
    const apiName = this.#apiName(module);
    return apiName !== undefined && this.#locks.has(`${apiName}/${recordId}`);
  }

  addFault(spec: FaultSpec): Fault {
    return this.#faults.add(spec);
  }

  /** Consumes one use of the first API fault matching this request (module/record null when the path has none). */
  takeFault(module: string | null, recordId: string | null): Fault | undefined {
    return this.#faults.take('api', module, recordId);
  }

  /** Consumes one use of the first fault with target 'accounts' (for a token-endpoint call). */
  takeTokenEndpointFault(): Fault | undefined {
    return this.#faults.take('accounts', null, null);
  }

  get faults(): Fault[] {
    return this.#faults.pending();
  }

  photo(module: string, recordId: string): StoredPhoto | undefined {
    const apiName = this.#apiName(module);
    return apiName === undefined ? undefined : this.#photos.get(`${apiName}/${recordId}`);
  }

  /** Puts a photo on a record with a new Record_Image, which it returns. */
  storePhoto(module: string, recordId: string, photo: Omit<StoredPhoto, 'recordImage'>): string {
    // Opaque to clients, as the CRM's are: a long hex id, different for every upload.
    const recordImage = randomBytes(20).toString('hex');
    this.#photos.set(this.#recordKey(module, recordId), { ...photo, recordImage });
    return recordImage;
  }

  deletePhoto(module: string, recordId: string): boolean {
    return this.#photos.delete(this.#recordKey(module, recordId));
  }

  /** Appends a request to the log in state 'receiving' and returns the live entry. */
  logRequest(request: NewRequest): RequestLogEntry {
    const entry = newLogEntry(this.#nextRequestId++, request);
    this.#requests.push(entry);
    if (this.#requests.length > MAX_LOGGED_REQUESTS) this.#requests.shift();
    return entry;
  }

  #apiName(module: string): string | undefined {
    const resolved = this.resolveModule(module);
    return resolved.kind === 'module' ? resolved.apiName : undefined;
  }

  // Locks and photos live only on existing records; a typo in a test should fail loudly, not lock nothing.
  #recordKey(module: string, recordId: string): string {
    const apiName = this.#apiName(module);
    if (apiName === undefined) {
      throw new RangeError(`unknown module ${JSON.stringify(module)} (known: ${this.modules.join(', ')})`);
    }
    if (!SEEDED_RECORD_IDS.includes(recordId)) {
      throw new RangeError(
        `unknown record ${JSON.stringify(recordId)} in ${apiName} (seeded: ${SEEDED_RECORD_IDS[0]}…${SEEDED_RECORD_IDS.at(-1)})`,
      );
    }
    return `${apiName}/${recordId}`;
  }
}
