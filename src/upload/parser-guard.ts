import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';

/** Names an own path through JSON operations can never need: they reach Object or Array prototypes. */
function reachesPrototype(segment: string): boolean {
  if (/^\d+$/.test(segment)) return false;
  return segment in Object.prototype || segment in Array.prototype || segment === 'prototype';
}

/** The map's paths, when any of them could walk into a prototype (the parser follows inherited properties). */
export function hostileMapPath(mapField: string): string | null {
  let map: unknown;
  try {
    map = JSON.parse(mapField);
  } catch {
    return null; // the parser answers malformed JSON itself
  }
  if (typeof map !== 'object' || map === null) return null;
  for (const paths of Object.values(map)) {
    if (!Array.isArray(paths)) continue;
    for (const path of paths) {
      if (typeof path === 'string' && path.split('.').some(reachesPrototype)) return path;
    }
  }
  return null;
}

/**
 * Guards graphql-upload-minimal's multipart parser, which is piped from `req` inside processRequest:
 * - it can emit a second 'error' after its own handler is gone (a malformed part header): swallowed,
 *   since the first one already failed the request;
 * - its map handling assigns through inherited properties (`variables.hasOwnProperty.call` would
 *   poison Object.prototype for the whole process): such a map becomes a parser error instead.
 * Call it just before processRequest; it applies to the next pipe from `req` only.
 */
export function guardMultipartParser(req: IncomingMessage): void {
  const pipe = req.pipe;
  req.pipe = function guardedPipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    req.pipe = pipe;
    const parser = destination as unknown as Writable;
    parser.on('error', () => {});
    const emit = parser.emit.bind(parser) as (event: string | symbol, ...args: unknown[]) => boolean;
    parser.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if (event === 'field' && args[0] === 'map' && typeof args[1] === 'string') {
        const path = hostileMapPath(args[1]);
        if (path !== null) {
          return emit('error', new Error(`The 'map' path '${path.slice(0, 100)}' leads outside the operations.`));
        }
      }
      return emit(event, ...args);
    };
    return pipe.call(req, destination, options) as T;
  };
}
