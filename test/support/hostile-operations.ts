/**
 * The operations of the hardening review, built the way the reviewer sent them, and a poster that measures what
 * comes back (status, answer size, time) and gives up after a deadline instead of waiting for a runaway answer.
 */
import { request } from 'node:http';
import { getIntrospectionQuery } from 'graphql';

const FIRST = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_';
const REST = `${FIRST}0123456789`;

/** The i-th shortest GraphQL name: a, b, …, _, aa, ba, …; the shortest names fit the most aliases in a body. */
export function aliasName(i: number): string {
  let name = FIRST[i % FIRST.length]!;
  let rest = Math.floor(i / FIRST.length);
  while (rest > 0) {
    name += REST[rest % REST.length];
    rest = Math.floor(rest / REST.length);
  }
  return name;
}

/** `{a:_service{sdl}b:_service{sdl}…}`: each alias asks for the whole SDL again. */
export function serviceAliases(count: number): string {
  return `{${Array.from({ length: count }, (_, i) => `${aliasName(i)}:_service{sdl}`).join('')}}`;
}

/** The introspection query GraphiQL sends, with every option it can turn on. */
export const GRAPHIQL_INTROSPECTION = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});

export interface TimedAnswer {
  status: number;
  /** The answer's size in bytes, counted as it streams (the text is kept only up to 64 KiB). */
  bytes: number;
  text: string;
  json: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
  /** From sending the request to the answer's last byte. */
  ms: number;
}

/**
 * POSTs `body` with node:http and reads the answer; rejects once `timeoutMs` has passed (and destroys the
 * request), so a test against a gateway that computes a huge answer fails in bounded time.
 */
export function postTimed(
  url: string,
  body: Buffer | string,
  options: { contentType?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<TimedAnswer> {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': options.contentType ?? 'application/json',
        'content-length': String(payload.length),
        accept: 'application/graphql-response+json, application/json;q=0.9',
        ...options.headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no complete answer within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    req.on('response', (res) => {
      let bytes = 0;
      const kept: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        if (bytes < 65_536) kept.push(chunk);
        bytes += chunk.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(kept).toString('utf8');
        let json: TimedAnswer['json'] = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode ?? 0, bytes, text, json, ms: performance.now() - started });
      });
      res.on('error', reject);
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(payload);
  });
}

/** A JSON GraphQL request body. */
export function jsonBody(query: string, variables?: Record<string, unknown>): string {
  return JSON.stringify(variables === undefined ? { query } : { query, variables });
}

/** GETs `/health` beside the GraphQL URL and says how long the answer took. */
export async function timedHealth(graphqlUrl: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(new URL('/health', graphqlUrl), { signal: AbortSignal.timeout(30_000) });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}
