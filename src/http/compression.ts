import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Plugin } from 'graphql-yoga';

// Responses compressed for clients that accept it: GraphQL results and GraphiQL's page (its assets come compressed
// from the build). Only bodies the gateway already holds whole (a string or bytes) are compressed; streams (photo
// downloads) pass as they are, and so do images, which are compressed already.

export type ContentEncoding = 'br' | 'gzip' | 'identity';
/** Bytes a Response takes as its body (a Buffer is one; its typings say otherwise). */
export type Body = Uint8Array<ArrayBuffer>;

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

/** Text formats worth compressing; everything else (images, octet streams) is sent as it is. */
const COMPRESSIBLE = /^(?:text\/|application\/(?:(?:graphql-response\+)?json|javascript)\b)/i;

export function isCompressible(contentType: string | null): boolean {
  return contentType !== null && COMPRESSIBLE.test(contentType);
}

/**
 * The encoding to answer with, from an `Accept-Encoding` header (RFC 9110 §12.5.3): the highest q-value among br
 * and gzip, br first on a tie; `*` stands for any coding not named; q=0 refuses one. Identity when neither is wanted.
 */
export function negotiateEncoding(acceptEncoding: string | null): ContentEncoding {
  if (!acceptEncoding) return 'identity';
  const weights = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!coding) continue;
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(coding, Number.isFinite(weight) ? weight : 0);
  }
  const weightOf = (coding: string) => weights.get(coding) ?? weights.get('*') ?? 0;
  const br = weightOf('br');
  const gz = Math.max(weightOf('gzip'), weights.get('x-gzip') ?? 0);
  if (br > 0 && br >= gz) return 'br';
  if (gz > 0) return 'gzip';
  return 'identity';
}

/** `quality`: brotli's 0–11; a response made per request wants a fast one, an asset made once a better one. */
export async function compress(bytes: Uint8Array, encoding: 'br' | 'gzip', quality: 'fast' | 'small'): Promise<Body> {
  if (encoding === 'gzip') return (await gzipped(bytes, { level: quality === 'fast' ? 6 : 9 })) as Body;
  return (await brotli(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: quality === 'fast' ? 4 : 7,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.byteLength,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  })) as Body;
}

/** Adds `Accept-Encoding` to a response's `Vary`, keeping what is there. */
export function varyOnEncoding(headers: Headers): void {
  const vary = headers.get('vary');
  if (!vary) headers.set('vary', 'Accept-Encoding');
  else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) headers.set('vary', `${vary}, Accept-Encoding`);
}

/**
 * Whether a response's body is a string or bytes. The server's Response keeps what it was made from (`bodyInit`,
 * @whatwg-node/server's); reading `body` instead would turn even a string into a stream.
 */
function isWhole(response: Response): boolean {
  const init = (response as { bodyInit?: unknown }).bodyInit;
  return typeof init === 'string' || init instanceof Uint8Array;
}

export interface CompressionOptions {
  /** Smaller bodies are sent as they are: the framing would cost more than it saves. */
  minBytes?: number;
}

/** Compresses whole text responses of at least `minBytes` with br or gzip, as the client's `Accept-Encoding` asks. */
export function useResponseCompression({ minBytes = 1024 }: CompressionOptions = {}): Plugin {
  return {
    // Not async: most answers (every upload's) are left as they are, with no promise made for them.
    onResponse({ request, response, setResponse, fetchAPI }) {
      if (request.method === 'HEAD' || response.status === 204 || response.status === 304) return;
      if (response.headers.has('content-encoding') || !isCompressible(response.headers.get('content-type'))) return;
      // Only a body already whole in memory; a stream is left alone, whatever length it declares.
      if (!isWhole(response)) return;
      const length = Number(response.headers.get('content-length') ?? NaN);
      if (!Number.isFinite(length) || length < minBytes) return;
      varyOnEncoding(response.headers);
      const encoding = negotiateEncoding(request.headers.get('accept-encoding'));
      if (encoding === 'identity') return;
      return (async () => {
        const body = await compress(new Uint8Array(await response.arrayBuffer()), encoding, 'fast');
        const headers = new fetchAPI.Headers(response.headers);
        headers.set('content-encoding', encoding);
        headers.set('content-length', String(body.byteLength));
        setResponse(new fetchAPI.Response(body, { status: response.status, statusText: response.statusText, headers }));
      })();
    },
  };
}
