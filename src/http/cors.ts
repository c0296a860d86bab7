import type { CORSOptions } from 'graphql-yoga';
import { PREFLIGHT_HEADERS } from './csrf.ts';

/**
 * CORS answers per request: a configured origin gets exactly itself back, with the headers an upload
 * needs; any other origin gets no CORS headers at all, so the browser keeps the response from the page.
 */
export function corsFor(allowedOrigins: readonly string[]): (request: Request) => CORSOptions {
  const allowed = new Set(allowedOrigins);
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !allowed.has(origin)) return false;
    return {
      origin: [origin],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['authorization', 'content-type', 'x-api-key', ...PREFLIGHT_HEADERS],
      credentials: true,
      maxAge: 600,
    };
  };
}
