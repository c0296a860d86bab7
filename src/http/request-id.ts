import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';

/** A caller's id is kept only when it is a sane token: no spaces, no control characters, nothing a log could choke on. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:\/+=-]{1,128}$/;

const ids = new WeakMap<Request, string>();

/** The request's id: the caller's `x-request-id` when sane, else a new one. Stable for the request's life. */
export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (id === undefined) {
    const incoming = request.headers.get('x-request-id');
    id = incoming !== null && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ids.set(request, id);
  }
  return id;
}

/** Gives every request an id and echoes it in the response's `x-request-id`, refusals included. */
export function useRequestId(): Plugin {
  return {
    onRequest({ request }) {
      requestIdOf(request);
    },
    onResponse({ request, response }) {
      response.headers.set('x-request-id', requestIdOf(request));
    },
  };
}
