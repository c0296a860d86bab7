/** Everything the emulator remembers: tokens, records, locks, photos, faults and the request log. */
import { FaultQueue, type Fault, type FaultSpec } from './faults.ts';
import { resolveModule, STANDARD_MODULES, validateCustomModules, type ModuleResolution } from './modules.ts';

export const EMULATOR_TOKEN = 'emulator-token';

/** Seeded record ids: 1000000000001 … 1000000000010, present in every module. */
export const SEEDED_RECORD_IDS: readonly string[] = Array.from({ length: 10 }, (_, i) => String(1_000_000_000_001 + i));

// Bounds the log so a long-running emulator does not grow without end; tests stay far below it.
export const MAX_LOGGED_REQUESTS = 10_000;

export type Permission = 'granted' | 'no-permission' | 'no-privilege';
export const PERMISSIONS: readonly Permission[] = ['granted', 'no-permission', 'no-privilege'];

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
  'method' | 'path' | 'query' | 'authorization' | 'contentType' | 'transferEncoding' | 'contentLength'
>;

export interface EmulatorStateOptions {
  customModules?: readonly string[];
}

const SEEDED_TOKEN: TokenGrant = { token: EMULATOR_TOKEN, scopes: ['ZohoCRM.modules.ALL'], permission: 'granted' };

export class EmulatorState {
  /** API names of the configured custom modules. */
  readonly customModules: readonly string[];
  #tokens = new Map<string, TokenGrant>();
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

  /** Back to the seed: only the demo token, no locks, photos, faults or logged requests. */
  reset(): void {
    this.#tokens = new Map([[SEEDED_TOKEN.token, SEEDED_TOKEN]]);
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
    return grant;
  }

  token(token: string): TokenGrant | undefined {
    return this.#tokens.get(token);
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

  /** Consumes one use of the first fault matching this request (module/record null when the path has none). */
  takeFault(module: string | null, recordId: string | null): Fault | undefined {
    return this.#faults.take(module, recordId);
  }

  get faults(): Fault[] {
    return this.#faults.pending();
  }

  photo(module: string, recordId: string): StoredPhoto | undefined {
    const apiName = this.#apiName(module);
    return apiName === undefined ? undefined : this.#photos.get(`${apiName}/${recordId}`);
  }

  storePhoto(module: string, recordId: string, photo: StoredPhoto): void {
    this.#photos.set(this.#recordKey(module, recordId), photo);
  }

  deletePhoto(module: string, recordId: string): boolean {
    return this.#photos.delete(this.#recordKey(module, recordId));
  }

  /** Appends a request to the log in state 'receiving' and returns the live entry. */
  logRequest(request: NewRequest): RequestLogEntry {
    const entry: RequestLogEntry = {
      id: this.#nextRequestId++,
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
