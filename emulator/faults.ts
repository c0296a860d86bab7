/** Injectable faults: their shape, validation, and the queue requests consume them from. */

export const FAULT_KINDS = [
  'latency',
  'internal-error',
  'rate-limit',
  'hang',
  'reset-mid-body',
  'html',
  'empty-body',
  'early-reject',
  'respond',
  'trickle-answer',
  'endless-answer',
  'echo-authorization',
  'throttle',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Which endpoint a fault lies in wait for:
 * - 'api' (the default when `target` is absent): CRM API requests (the photo endpoint and any other path
 *   that is not the control API or the token endpoint), narrowed by `match`;
 * - 'accounts': calls to the accounts server's token endpoint (POST /oauth/v2/token). `match` does not apply
 *   there and is refused, as are kinds that only mean something for an API call (early-reject, echo-authorization) and the
 *   Retry-After of rate-limit (the accounts server sends none). On the token endpoint, internal-error answers
 *   500 and rate-limit answers 400 "Access Denied", both in the accounts server's JSON shape.
 * A fault never crosses targets: an API fault without `match` does not catch a token call, nor the reverse.
 */
export const FAULT_TARGETS = ['api', 'accounts'] as const;

export type FaultTarget = (typeof FAULT_TARGETS)[number];

/** Kinds a fault with target 'accounts' may have. */
export const ACCOUNTS_FAULT_KINDS: readonly FaultKind[] = [
  'latency',
  'internal-error',
  'rate-limit',
  'hang',
  'reset-mid-body',
  'html',
  'empty-body',
  'respond',
  'trickle-answer',
  'endless-answer',
];

// Fields that mean nothing on the token endpoint.
const NOT_FOR_ACCOUNTS: readonly (keyof FaultSpec)[] = ['match', 'retryAfter'];

export interface FaultMatch {
  /** Module API name, compared case-insensitively with the URL segment. */
  module?: string;
  /** Record id, compared exactly with the URL segment. */
  recordId?: string;
}

export interface FaultSpec {
  kind: FaultKind;
  /** Default 'api'; see FAULT_TARGETS. */
  target?: FaultTarget;
  /** How many requests the fault applies to; default 1, 0 = every matching request until reset. */
  times?: number;
  match?: FaultMatch;
  /** Wait this long before answering (latency; also delays any other answering kind). */
  delayMs?: number;
  /** rate-limit: the Retry-After header value, default '30'. */
  retryAfter?: string;
  status?: number;
  code?: string;
  message?: string;
  body?: string;
  contentType?: string;
  /** reset-mid-body: body bytes to receive before the reset, default 1024. */
  afterBytes?: number;
  /** early-reject: destroy the socket right after the answer is written (with code SUCCESS and status 200: a half-truth). */
  close?: boolean;
  /** trickle-answer: milliseconds between two bytes of the answer's body, default 1000; throttle: between two chunks, default 100. */
  intervalMs?: number;
  /** throttle: bytes of the answer's body sent every intervalMs, default 16384. */
  chunkBytes?: number;
}

export interface Fault extends Readonly<FaultSpec> {
  readonly id: number;
  /** Requests left before the fault is used up; null = until reset. */
  readonly remaining: number | null;
}

const COMMON_FIELDS = ['kind', 'target', 'times', 'match'] as const;

// Which optional fields mean something for each kind; others are refused so a typo cannot pass silently.
const FIELDS_BY_KIND: Record<FaultKind, readonly (keyof FaultSpec)[]> = {
  latency: ['delayMs'],
  'internal-error': ['delayMs', 'message'],
  'rate-limit': ['delayMs', 'retryAfter', 'message'],
  hang: [],
  'reset-mid-body': ['afterBytes'],
  html: ['delayMs', 'status', 'body'],
  'empty-body': ['delayMs', 'status', 'contentType'],
  'early-reject': ['delayMs', 'status', 'code', 'message', 'close'],
  respond: ['delayMs', 'status', 'contentType', 'body'],
  // After the whole request body: the status line and headers at once, then the body one byte every intervalMs.
  'trickle-answer': ['delayMs', 'status', 'contentType', 'body', 'intervalMs'],
  // After the whole request body: a 200 whose body never ends (written as fast as the client reads it).
  'endless-answer': ['delayMs', 'status', 'contentType'],
  // After the whole request body: a CRM error whose message ends with the request's Authorization header, verbatim.
  'echo-authorization': ['delayMs', 'status', 'code', 'message'],
  // Whatever the request would get (a stored photo, an error), its body sent chunkBytes every intervalMs; a client
  // that leaves before the last chunk leaves the request 'aborted' in the log.
  throttle: ['delayMs', 'intervalMs', 'chunkBytes'],
};

const MAX_DELAY_MS = 10 * 60 * 1000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`fault field '${name}' must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(`fault field '${name}' must be a string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function headerValue(name: string, value: unknown): string {
  const s = text(name, value);
  // A header value with CR/LF or control characters would make the response itself invalid.
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(s)) throw new TypeError(`fault field '${name}' must not contain control characters`);
  return s;
}

function parseMatch(value: unknown): FaultMatch {
  if (!isRecord(value)) throw new TypeError(`fault field 'match' must be an object, got ${JSON.stringify(value)}`);
  const match: FaultMatch = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'module') match.module = text('match.module', v);
    else if (key === 'recordId') match.recordId = text('match.recordId', v);
    else throw new TypeError(`unknown fault field 'match.${key}' (expected module, recordId)`);
  }
  return match;
}

/** Validates a fault from JSON or code; throws a TypeError naming the field that is wrong. */
export function parseFaultSpec(input: unknown): FaultSpec {
  if (!isRecord(input)) throw new TypeError(`a fault must be a JSON object, got ${JSON.stringify(input)}`);
  const kind = input['kind'];
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new TypeError(`fault field 'kind' must be one of ${FAULT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  const faultKind = kind as FaultKind;
  const target = input['target'];
  if (target !== undefined && (typeof target !== 'string' || !(FAULT_TARGETS as readonly string[]).includes(target))) {
    throw new TypeError(`fault field 'target' must be one of ${FAULT_TARGETS.join(', ')}, got ${JSON.stringify(target)}`);
  }
  const forAccounts = target === 'accounts';
  if (forAccounts && !ACCOUNTS_FAULT_KINDS.includes(faultKind)) {
    throw new TypeError(
      `fault kind '${faultKind}' does not apply to target 'accounts' (allowed: ${ACCOUNTS_FAULT_KINDS.join(', ')})`,
    );
  }
  const allowed = new Set<string>([...COMMON_FIELDS, ...FIELDS_BY_KIND[faultKind]]);
  if (forAccounts) for (const field of NOT_FOR_ACCOUNTS) allowed.delete(field);
  const spec: FaultSpec = { kind: faultKind };
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || key === 'kind') continue;
    if (forAccounts && (NOT_FOR_ACCOUNTS as readonly string[]).includes(key)) {
      throw new TypeError(`fault field '${key}' does not apply to target 'accounts'`);
    }
    if (!allowed.has(key)) {
      throw new TypeError(
        `fault field '${key}' does not apply to kind '${faultKind}' (allowed: ${[...allowed].join(', ')})`,
      );
    }
    switch (key) {
      case 'target':
        spec.target = value as FaultTarget;
        break;
      case 'times':
        spec.times = integerIn(key, value, 0, Number.MAX_SAFE_INTEGER);
        break;
      case 'match':
        spec.match = parseMatch(value);
        break;
      case 'delayMs':
        spec.delayMs = integerIn(key, value, 0, MAX_DELAY_MS);
        break;
      case 'afterBytes':
        spec.afterBytes = integerIn(key, value, 0, Number.MAX_SAFE_INTEGER);
        break;
      case 'intervalMs':
        spec.intervalMs = integerIn(key, value, 1, MAX_DELAY_MS);
        break;
      case 'chunkBytes':
        spec.chunkBytes = integerIn(key, value, 1, 16 * 1024 * 1024);
        break;
      case 'status':
        spec.status = integerIn(key, value, 200, 599);
        break;
      case 'retryAfter':
        spec.retryAfter = headerValue(key, value);
        break;
      case 'contentType':
        spec.contentType = headerValue(key, value);
        break;
      case 'code':
        spec.code = text(key, value);
        break;
      case 'message':
        spec.message = text(key, value);
        break;
      case 'body':
        spec.body = text(key, value);
        break;
      case 'close':
        if (typeof value !== 'boolean') throw new TypeError(`fault field 'close' must be a boolean, got ${JSON.stringify(value)}`);
        spec.close = value;
        break;
    }
  }
  if (faultKind === 'latency' && spec.delayMs === undefined) {
    throw new TypeError(`fault kind 'latency' needs 'delayMs'`);
  }
  return spec;
}

interface QueuedFault {
  readonly id: number;
  readonly spec: FaultSpec;
  remaining: number | null;
}

/** Faults in the order they were added; each request consumes the first one that matches it. */
export class FaultQueue {
  #queue: QueuedFault[] = [];
  #nextId = 1;

  add(input: FaultSpec): Fault {
    const spec = parseFaultSpec(input);
    const times = spec.times ?? 1;
    const queued: QueuedFault = { id: this.#nextId++, spec, remaining: times === 0 ? null : times };
    this.#queue.push(queued);
    return snapshot(queued);
  }

  /** Takes one use of the first fault for `target` matching the request's module and record (null when the path has none). */
  take(target: FaultTarget, module: string | null, recordId: string | null): Fault | undefined {
    const index = this.#queue.findIndex(
      (f) => (f.spec.target ?? 'api') === target && matches(f.spec.match, module, recordId),
    );
    if (index === -1) return undefined;
    const queued = this.#queue[index]!;
    if (queued.remaining !== null) {
      queued.remaining -= 1;
      if (queued.remaining === 0) this.#queue.splice(index, 1);
    }
    return snapshot(queued);
  }

  pending(): Fault[] {
    return this.#queue.map(snapshot);
  }

  clear(): void {
    this.#queue = [];
  }
}

function snapshot(queued: QueuedFault): Fault {
  return { ...queued.spec, id: queued.id, remaining: queued.remaining };
}

function matches(match: FaultMatch | undefined, module: string | null, recordId: string | null): boolean {
  if (match === undefined) return true;
  if (match.module !== undefined && match.module.toLowerCase() !== module?.toLowerCase()) return false;
  if (match.recordId !== undefined && match.recordId !== recordId) return false;
  return true;
}
