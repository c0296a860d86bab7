import { DATA_CENTRES, isDataCentreCode } from './crm/data-centres.ts';
import { moduleCatalog, ModuleCatalogError, type CrmModule } from './crm/modules.ts';
import type { ServiceCredentialsSettings } from './crm/service-credentials.ts';

export interface CrmSettings {
  /** CRM API origin, e.g. https://www.zohoapis.eu; undefined starts the embedded emulator. */
  apiDomain: string | undefined;
  /** Accounts (OAuth) origin for service mode; undefined: the embedded emulator's. */
  accountsUrl: string | undefined;
  apiVersion: string;
  modules: CrmModule[];
  connectTimeoutMs: number;
  /** How long the CRM may make no progress: not reading the body we send, or not answering once it is sent. */
  responseTimeoutMs: number;
  /** Uploads in flight to the CRM at once; more wait in a queue. */
  maxConcurrency: number;
  maxQueue: number;
  queueTimeoutMs: number;
  /** Calls one caller may have in flight to the CRM or waiting for a slot; one more is refused. */
  maxConcurrencyPerCaller: number;
  /** CRM_REPLICAS: replicas sharing the organisation's budget; while Redis is away each keeps floor(maxConcurrency / replicas), at least 1. */
  replicas: number;
  /** CRM_SLOT_LEASE_MS: how long a shared slot outlives a replica that died holding it (renewed while the call runs). */
  slotLeaseMs: number;
}

/** REDIS_URL: replicas share the service token, the CRM budget and the CRM's 429 pauses through it. */
export interface RedisSettings {
  /** redis:// or rediss:// URL; may carry a password, so it is never logged or echoed. */
  url: string;
  /** REDIS_KEY_PREFIX: every key starts with it, so gateways for several CRM organisations can share one Redis. */
  keyPrefix: string;
}

export interface GatewayConfig {
  /** NODE_ENV=production: a CRM must be configured; development conveniences are off. */
  production: boolean;
  port: number;
  host: string;
  /** Browser origins allowed to call the gateway; empty: none. */
  corsOrigins: string[];
  crm: CrmSettings;
  /** null: pass-through, each caller brings its own CRM token. */
  serviceCredentials: ServiceCredentialsSettings | null;
  /** Keys callers must present (x-api-key or Authorization: Bearer); required in service mode. */
  apiKeys: string[];
  /** On SIGTERM, how long in-flight uploads may take to finish before connections are cut. */
  shutdownGraceMs: number;
  /** How long a client may send nothing in the middle of its upload. */
  uploadIdleTimeoutMs: number;
  /** How long a connection may take to send a request's headers, counted from its start: a silent socket is closed then too. */
  headersTimeoutMs: number;
  /** The least a client must send, on average, over a window of uploadIdleTimeoutMs; 0: no floor. */
  uploadMinBytesPerSecond: number;
  /** The longest one file may take to arrive, from its first byte to its last, however the time went. */
  uploadMaxSeconds: number;
  /** Operators' view: logs on stdout, Prometheus metrics on their own port. */
  telemetry: TelemetrySettings;
  /** PUBLIC_URL: where clients reach the gateway (origin and optional path prefix, no trailing slash); null: links are path-relative. */
  publicUrl: string | null;
  /** Signed photo links (service mode with PHOTO_URL_SECRET); null: photo URLs need the caller's headers. */
  photoLinks: PhotoLinkSettings | null;
  /** GraphiQL at /graphql (GRAPHIQL, default true). */
  graphiql: boolean;
  /** Introspection and "Did you mean …" suggestions: always outside production, in production as GraphiQL. */
  introspection: boolean;
  /** What every operation must keep to before it runs. */
  operationLimits: OperationLimits;
  /** Phone photos: scaling down to fit the CRM's limits, location and metadata. */
  photos: PhotoSettings;
  /** null: no REDIS_URL, every limit and token is this process's own. */
  redis: RedisSettings | null;
}

export interface PhotoSettings {
  /** PHOTO_FIT_TO_LIMITS: a photo over the pixel limit is scaled down to fit when the request does not say (default false). */
  fitToLimits: boolean;
  /** PHOTO_RESIZE_CONCURRENCY: photos scaled down at once. */
  resizeConcurrency: number;
  /** PHOTO_RESIZE_MAX_QUEUE: photos that may wait for a resize, on top of those resizing. */
  resizeMaxQueue: number;
  /** PHOTO_JPEG_QUALITY: the quality a scaled-down JPEG is written at first. */
  jpegQuality: number;
  /** PHOTO_STRIP_LOCATION: GPS data leaves every JPEG sent to the CRM (default true). */
  stripLocation: boolean;
  /** PHOTO_STRIP_METADATA: EXIF, XMP, IPTC and comments leave every JPEG sent to the CRM (default false). */
  stripMetadata: boolean;
}

export interface PhotoLinkSettings {
  /** PHOTO_URL_SECRET: the HMAC key, 32 bytes or more. Never logged, never echoed in a message. */
  secret: string;
  /** PHOTO_URL_TTL_SECONDS: the least a link lives (links fall on TTL boundaries, so at most twice that). */
  ttlSeconds: number;
}

export interface OperationLimits {
  maxAliases: number;
  maxDepth: number;
  /** Lexical tokens in the document, counted as it is parsed. */
  maxTokens: number;
  maxDirectives: number;
  /** graphql-armor's static cost: each object 2 and each scalar 1, times 1.5 for every level down. */
  maxCost: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TelemetrySettings {
  logLevel: LogLevel;
  /** `json`: one JSON object a line; `pretty`: for people at a terminal. */
  logFormat: 'json' | 'pretty';
  /** The Prometheus listener's port, on HOST; 0: no metrics listener. */
  metricsPort: number;
}

/** A start-up refusal: names the variable and what is wrong with it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable} ${problem}`);
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === '' ? undefined : raw;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return Number(raw);
}

function origin(env: Env, name: string, example: string): string | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an origin such as ${example}, got '${raw}'`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname.replace(/\/$/, '') !== '' || url.search) {
    throw new ConfigError(name, `must be an http(s) origin with no path, got '${raw}'`);
  }
  return url.origin;
}

/** An http(s) origin with an optional path prefix, e.g. https://api.example.com/crm; no query, fragment or credentials. */
function publicUrl(env: Env): string | null {
  const raw = value(env, 'PUBLIC_URL');
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('PUBLIC_URL', `must be an http(s) URL such as https://api.example.com or https://api.example.com/crm, got '${raw}'`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('PUBLIC_URL', `must be an http(s) URL, got '${raw}'`);
  // Never echo a password back: say only that there is one.
  if (url.username || url.password) throw new ConfigError('PUBLIC_URL', 'must not carry a user name or password');
  if (raw.includes('?') || raw.includes('#')) {
    throw new ConfigError('PUBLIC_URL', `must be an origin and optional path prefix, with no query or fragment, got '${raw}'`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** PHOTO_URL_SECRET signs photo links; only service mode has a token to fetch a linked photo with later. */
function photoLinks(env: Env, serviceMode: boolean): PhotoLinkSettings | null {
  const ttlSeconds = integer(env, 'PHOTO_URL_TTL_SECONDS', 3_600, 1, 31_536_000);
  // Not trimmed or echoed: the secret is taken exactly as set.
  const secret = env['PHOTO_URL_SECRET'];
  if (secret === undefined || secret === '') return null;
  if (!serviceMode) {
    throw new ConfigError(
      'PHOTO_URL_SECRET',
      'only applies in service mode (ZOHO_CLIENT_ID/SECRET/REFRESH_TOKEN): in pass-through mode the gateway has no CRM token to serve a signed link with',
    );
  }
  if (Buffer.byteLength(secret, 'utf8') < 32) throw new ConfigError('PHOTO_URL_SECRET', 'must be at least 32 bytes long');
  return { secret, ttlSeconds };
}

function flag(env: Env, name: string, fallback = false): boolean {
  const raw = value(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new ConfigError(name, `must be true or false, got '${raw}'`);
}

/** ZOHO_DC picks both origins; ZOHO_API_DOMAIN and ZOHO_ACCOUNTS_URL override them one by one. */
function crmOrigins(env: Env): { apiDomain: string | undefined; accountsUrl: string | undefined } {
  const dc = value(env, 'ZOHO_DC')?.toLowerCase();
  if (dc !== undefined && !isDataCentreCode(dc)) {
    throw new ConfigError('ZOHO_DC', `must be one of ${Object.keys(DATA_CENTRES).join(', ')}, got '${dc}'`);
  }
  const sandbox = flag(env, 'ZOHO_SANDBOX');
  const centre = dc === undefined ? undefined : DATA_CENTRES[dc];
  if (sandbox && centre === undefined && value(env, 'ZOHO_API_DOMAIN') === undefined) {
    throw new ConfigError('ZOHO_SANDBOX', 'needs ZOHO_DC to know which data centre the sandbox is in');
  }
  return {
    apiDomain:
      origin(env, 'ZOHO_API_DOMAIN', 'https://www.zohoapis.com') ?? (sandbox ? centre?.sandboxApiDomain : centre?.apiDomain),
    accountsUrl: origin(env, 'ZOHO_ACCOUNTS_URL', 'https://accounts.zoho.com') ?? centre?.accountsUrl,
  };
}

const SERVICE_VARIABLES = ['ZOHO_CLIENT_ID', 'ZOHO_CLIENT_SECRET', 'ZOHO_REFRESH_TOKEN'] as const;

function serviceCredentials(env: Env): ServiceCredentialsSettings | null {
  const [clientId, clientSecret, refreshToken] = SERVICE_VARIABLES.map((name) => value(env, name));
  const set = SERVICE_VARIABLES.filter((name) => value(env, name) !== undefined);
  if (set.length === 0) return null;
  const missing = SERVICE_VARIABLES.find((name) => value(env, name) === undefined);
  if (missing) throw new ConfigError(missing, `must be set too: service mode needs ${SERVICE_VARIABLES.join(', ')}`);
  return { clientId: clientId!, clientSecret: clientSecret!, refreshToken: refreshToken! };
}

function apiKeys(env: Env): string[] {
  const keys = (value(env, 'GATEWAY_API_KEYS') ?? '').split(',').map((key) => key.trim()).filter(Boolean);
  const weak = keys.find((key) => key.length < 16);
  // Never echo the key itself: say which one by position.
  if (weak !== undefined) {
    throw new ConfigError('GATEWAY_API_KEYS', `has a key shorter than 16 characters (key ${keys.indexOf(weak) + 1})`);
  }
  return keys;
}

function modules(env: Env): CrmModule[] {
  const names = (value(env, 'CRM_CUSTOM_MODULES') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  try {
    return moduleCatalog(names);
  } catch (error) {
    if (error instanceof ModuleCatalogError) throw new ConfigError('CRM_CUSTOM_MODULES', `is invalid: ${error.message}`);
    throw error;
  }
}

function corsOrigins(env: Env): string[] {
  const entries = (value(env, 'CORS_ORIGINS') ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  return entries.map((entry) => {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    // Exact origins only: a wildcard with credentials would let any site act as the user.
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== entry.replace(/\/$/, '')) {
      throw new ConfigError('CORS_ORIGINS', `must list origins such as https://app.example.com, got '${entry}'`);
    }
    return url.origin;
  });
}

/** REDIS_URL and REDIS_KEY_PREFIX; the URL's password never appears in a message. */
function redis(env: Env): RedisSettings | null {
  const keyPrefix = value(env, 'REDIS_KEY_PREFIX') ?? 'crm-photos:';
  if (!/^[\x21-\x7e]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', 'must be 1 to 64 visible ASCII characters, with no spaces');
  }
  const raw = value(env, 'REDIS_URL');
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'must be a URL such as redis://redis:6379 or rediss://user:password@host:6380/0');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', `must start with redis:// or rediss://, got '${url.protocol}'`);
  }
  if (url.hostname === '') throw new ConfigError('REDIS_URL', 'must name a host, e.g. redis://redis:6379');
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,2}$/.test(url.pathname)) {
    throw new ConfigError('REDIS_URL', 'may end only with a database number, e.g. redis://redis:6379/0');
  }
  return { url: raw, keyPrefix };
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = value(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got '${raw}'`);
  return raw as T;
}

function telemetry(env: Env, isTerminal: boolean): TelemetrySettings {
  return {
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: oneOf(env, 'LOG_FORMAT', ['json', 'pretty'] as const, isTerminal ? 'pretty' : 'json'),
    metricsPort: integer(env, 'METRICS_PORT', 9464, 0, 65535),
  };
}

/** Reads and validates every setting at start-up, so a bad value stops the process before it serves. */
export function loadConfig(env: Env = process.env, options: { isTerminal?: boolean } = {}): GatewayConfig {
  const apiVersion = value(env, 'ZOHO_API_VERSION') ?? 'v7';
  if (!/^v\d+$/.test(apiVersion)) {
    throw new ConfigError('ZOHO_API_VERSION', `must look like v7, got '${apiVersion}'`);
  }
  const credentials = serviceCredentials(env);
  const keys = apiKeys(env);
  if (credentials && keys.length === 0) {
    throw new ConfigError(
      'GATEWAY_API_KEYS',
      'must be set in service mode (ZOHO_CLIENT_ID/SECRET/REFRESH_TOKEN): without it anyone could upload with the organisation\'s credentials',
    );
  }
  const origins = crmOrigins(env);
  const production = value(env, 'NODE_ENV') === 'production';
  // Fail closed: in production a forgotten CRM must stop start-up, never fall back to the emulator's fake successes.
  if (production && origins.apiDomain === undefined) {
    throw new ConfigError('ZOHO_DC', 'or ZOHO_API_DOMAIN must be set in production (NODE_ENV=production): the CRM emulator never runs there');
  }
  if (credentials && origins.apiDomain !== undefined && origins.accountsUrl === undefined) {
    throw new ConfigError('ZOHO_ACCOUNTS_URL', 'must be set (or ZOHO_DC) in service mode, to know where to refresh tokens');
  }
  const graphiql = flag(env, 'GRAPHIQL', true);
  return {
    production,
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: value(env, 'HOST') ?? '0.0.0.0',
    corsOrigins: corsOrigins(env),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    uploadIdleTimeoutMs: integer(env, 'UPLOAD_IDLE_TIMEOUT_MS', 30_000, 1, 600_000),
    headersTimeoutMs: integer(env, 'HEADERS_TIMEOUT_MS', 15_000, 1, 600_000),
    uploadMinBytesPerSecond: integer(env, 'UPLOAD_MIN_BYTES_PER_SECOND', 1_024, 0, 100_000_000),
    uploadMaxSeconds: integer(env, 'UPLOAD_MAX_SECONDS', 300, 1, 86_400),
    telemetry: telemetry(env, options.isTerminal ?? false),
    publicUrl: publicUrl(env),
    photoLinks: photoLinks(env, credentials !== null),
    graphiql,
    introspection: !production || graphiql,
    operationLimits: {
      maxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 1_000),
      maxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', 10, 1, 1_000),
      maxTokens: integer(env, 'GRAPHQL_MAX_TOKENS', 1_000, 1, 100_000),
      maxDirectives: integer(env, 'GRAPHQL_MAX_DIRECTIVES', 50, 0, 1_000),
      maxCost: integer(env, 'GRAPHQL_MAX_COST', 1_000, 1, 1_000_000),
    },
    photos: {
      fitToLimits: flag(env, 'PHOTO_FIT_TO_LIMITS', false),
      resizeConcurrency: integer(env, 'PHOTO_RESIZE_CONCURRENCY', 2, 1, 64),
      resizeMaxQueue: integer(env, 'PHOTO_RESIZE_MAX_QUEUE', 8, 0, 1_000),
      jpegQuality: integer(env, 'PHOTO_JPEG_QUALITY', 85, 50, 100),
      stripLocation: flag(env, 'PHOTO_STRIP_LOCATION', true),
      stripMetadata: flag(env, 'PHOTO_STRIP_METADATA', false),
    },
    serviceCredentials: credentials,
    apiKeys: keys,
    redis: redis(env),
    crm: {
      ...origins,
      apiVersion,
      modules: modules(env),
      connectTimeoutMs: integer(env, 'CRM_CONNECT_TIMEOUT_MS', 5_000, 1, 600_000),
      responseTimeoutMs: integer(env, 'CRM_RESPONSE_TIMEOUT_MS', 30_000, 1, 3_600_000),
      maxConcurrency: integer(env, 'CRM_MAX_CONCURRENCY', 10, 1, 1_000),
      maxQueue: integer(env, 'CRM_MAX_QUEUE', 100, 0, 100_000),
      queueTimeoutMs: integer(env, 'CRM_QUEUE_TIMEOUT_MS', 10_000, 1, 600_000),
      maxConcurrencyPerCaller: integer(env, 'CRM_MAX_CONCURRENCY_PER_CALLER', 3, 1, 1_000),
      replicas: integer(env, 'CRM_REPLICAS', 1, 1, 1_000),
      slotLeaseMs: integer(env, 'CRM_SLOT_LEASE_MS', 30_000, 1_000, 3_600_000),
    },
  };
}
