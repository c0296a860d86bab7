/**
 * The accounts server's token endpoint over HTTP: POST /oauth/v2/token with its parameters in the query
 * string or an application/x-www-form-urlencoded body (a body parameter is used when the query lacks it).
 * Calls go to the token log (EmulatorState.tokenRequests), not the API request log, and secrets only as hints.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TokenRequestParams } from './accounts.ts';
import { CRM_JSON_CONTENT_TYPE } from './answers.ts';
import { Exchange } from './exchange.ts';
import { applyFault } from './fault-actions.ts';
import { newLogEntry, type EmulatorState, type RequestLogEntry } from './state.ts';

// A refresh request is a few hundred bytes; a body past this is refused, and not kept.
export const MAX_TOKEN_BODY_BYTES = 64 * 1024;

const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

export function handleTokenRequest(state: EmulatorState, apiDomain: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://emulator.invalid');
  const method = req.method ?? 'GET';
  const ex = new Exchange(detachedEntry(method, url), req, res);
  const body = collectBody(req);
  ex.consume();
  ex.guard(() => {
    const fault = state.takeTokenEndpointFault();
    if (fault !== undefined && applyFault(ex, fault, 'accounts')) {
      // Logged once the body is in (or the connection went), so the hints cover body parameters too.
      void ex.bodyEnded.then(() => state.logTokenRequest(method, params(url, req, body()), 'faulted', fault.kind));
      return;
    }
    void ex.bodyEnded.then((ended) => {
      if (ended) ex.guard(() => serve(state, apiDomain, ex, url, body(), fault?.kind ?? null));
    });
  });
}

function serve(
  state: EmulatorState,
  apiDomain: string,
  ex: Exchange,
  url: URL,
  body: Buffer | 'too-large',
  fault: string | null,
): void {
  const method = ex.req.method ?? 'GET';
  const call = params(url, ex.req, body);
  if (method !== 'POST') {
    state.logTokenRequest(method, call, 'invalid_request', fault);
    return answerJson(ex, 405, { error: 'invalid_request', error_description: `${method} is not allowed; use POST` }, { allow: 'POST' });
  }
  if (body === 'too-large') {
    state.logTokenRequest(method, call, 'invalid_request', fault);
    return answerJson(ex, 413, { error: 'invalid_request', error_description: `the body exceeds ${MAX_TOKEN_BODY_BYTES} bytes` });
  }
  const answer = state.requestAccessToken(call, { apiDomain, method, fault });
  answerJson(ex, answer.httpStatus, answer.body);
}

function answerJson(ex: Exchange, status: number, body: object, headers: Record<string, string> = {}): void {
  ex.answer(status, JSON.stringify(body), null, { headers: { ...headers, 'content-type': CRM_JSON_CONTENT_TYPE } });
}

/** The call's parameters: from the query string, else from a form body. */
function params(url: URL, req: IncomingMessage, body: Buffer | 'too-large'): TokenRequestParams {
  const form = body !== 'too-large' && isForm(req.headers['content-type']) ? new URLSearchParams(body.toString('utf8')) : undefined;
  const get = (name: string): string | null => url.searchParams.get(name) ?? form?.get(name) ?? null;
  return {
    grantType: get('grant_type'),
    clientId: get('client_id'),
    clientSecret: get('client_secret'),
    refreshToken: get('refresh_token'),
  };
}

function isForm(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === FORM_CONTENT_TYPE;
}

/** Keeps the body (up to the limit) as it streams; the returned function reads what has arrived. */
function collectBody(req: IncomingMessage): () => Buffer | 'too-large' {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_TOKEN_BODY_BYTES) chunks.push(chunk);
  });
  return () => (size > MAX_TOKEN_BODY_BYTES ? 'too-large' : Buffer.concat(chunks));
}

/**
 * The Exchange's own bookkeeping entry. It is never added to the API request log: token calls carry
 * secrets in their query, and the API log is what tests of the photo endpoint count.
 */
function detachedEntry(method: string, url: URL): RequestLogEntry {
  return newLogEntry(0, {
    method,
    path: url.pathname,
    query: {},
    authorization: null,
    contentType: null,
    transferEncoding: null,
    contentLength: null,
    traceparent: null,
  });
}
