import { moduleCatalog, ModuleCatalogError, type CrmModule } from './crm/modules.ts';

export interface CrmSettings {
  /** CRM API origin, e.g. https://www.zohoapis.eu; undefined starts the embedded emulator. */
  apiDomain: string | undefined;
  apiVersion: string;
  modules: CrmModule[];
  connectTimeoutMs: number;
  /** How long the CRM may make no progress: not reading the body we send, or not answering once it is sent. */
  responseTimeoutMs: number;
}

export interface GatewayConfig {
  port: number;
  host: string;
  /** Browser origins allowed to call the gateway; empty: none. */
  corsOrigins: string[];
  crm: CrmSettings;
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

function apiDomain(env: Env): string | undefined {
  const raw = value(env, 'ZOHO_API_DOMAIN');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('ZOHO_API_DOMAIN', `must be an origin such as https://www.zohoapis.com, got '${raw}'`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname.replace(/\/$/, '') !== '' || url.search) {
    throw new ConfigError('ZOHO_API_DOMAIN', `must be an http(s) origin with no path, got '${raw}'`);
  }
  return url.origin;
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

/** Reads and validates every setting at start-up, so a bad value stops the process before it serves. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const apiVersion = value(env, 'ZOHO_API_VERSION') ?? 'v7';
  if (!/^v\d+$/.test(apiVersion)) {
    throw new ConfigError('ZOHO_API_VERSION', `must look like v7, got '${apiVersion}'`);
  }
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: value(env, 'HOST') ?? '0.0.0.0',
    corsOrigins: corsOrigins(env),
    crm: {
      apiDomain: apiDomain(env),
      apiVersion,
      modules: modules(env),
      connectTimeoutMs: integer(env, 'CRM_CONNECT_TIMEOUT_MS', 5_000, 1, 600_000),
      responseTimeoutMs: integer(env, 'CRM_RESPONSE_TIMEOUT_MS', 30_000, 1, 3_600_000),
    },
  };
}
