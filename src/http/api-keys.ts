import { createHash, timingSafeEqual } from 'node:crypto';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares against every key, in constant time per key, so timing tells nothing about any of them. */
export function apiKeyMatcher(keys: readonly string[]): (presented: string | null) => boolean {
  const digests = keys.map(digest);
  return (presented) => {
    if (presented === null) return false;
    const candidate = digest(presented);
    let matched = false;
    for (const key of digests) matched = timingSafeEqual(candidate, key) || matched;
    return matched;
  };
}

/** Whether a request carries a valid key: `x-api-key`, or `Authorization: Bearer <key>` when `bearer` is set. */
export function apiKeyCheck(keys: readonly string[], options: { bearer: boolean }): (request: Request) => boolean {
  const matches = apiKeyMatcher(keys);
  return (request) => {
    const header = request.headers.get('x-api-key');
    const bearer = options.bearer ? /^Bearer[ \t]+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1] : undefined;
    return matches(header) || matches(bearer ?? null);
  };
}

/** What a caller without a valid key is told. */
export function apiKeyRequiredMessage(options: { bearer: boolean }): string {
  return `A valid API key is required: send it as the x-api-key header${options.bearer ? ' or as Authorization: Bearer <key>' : ''}.`;
}

/**
 * The gateway's own callers authenticate with an API key: `x-api-key`, or (when the Authorization
 * header is not the caller's CRM token) `Authorization: Bearer <key>`. Checked before parsing, so a
 * caller without a key never reaches the CRM.
 */
export function useApiKeys(keys: readonly string[], options: { bearer: boolean }): Plugin {
  const hasValidKey = apiKeyCheck(keys, options);
  return {
    onRequestParse({ request }) {
      if (hasValidKey(request)) return;
      throw createGraphQLError(apiKeyRequiredMessage(options), {
        extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } },
      });
    },
  };
}
