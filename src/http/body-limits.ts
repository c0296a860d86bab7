import { createGraphQLError, type Plugin } from 'graphql-yoga';

export interface BodyLimits {
  /** A GraphQL multipart request: operations, map and one photo of at most 10 MiB, with room to spare. */
  multipartBytes: number;
  /** Any other body: a JSON GraphQL request. */
  otherBytes: number;
}

const MULTIPART = /^multipart\/form-data\b/i;

function tooLarge(limit: number) {
  return createGraphQLError(`The request body is larger than the ${limit} bytes this endpoint accepts.`, {
    extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413 } },
  });
}

/**
 * Refuses bodies by their declared size before anything reads them. (Yoga's own limit tees every
 * body into a second stream, which our streaming parser never reads: it would hold whole uploads.)
 * A multipart body with no declared size is counted as it streams, by the multipart parser.
 */
export function useBodyLimits(limits: BodyLimits): Plugin {
  return {
    onRequestParse({ request }) {
      if (request.method !== 'POST') return;
      const multipart = MULTIPART.test(request.headers.get('content-type') ?? '');
      const limit = multipart ? limits.multipartBytes : limits.otherBytes;
      const declared = request.headers.get('content-length');
      if (declared === null) {
        if (multipart) return;
        throw createGraphQLError('A GraphQL request body needs a Content-Length header.', {
          extensions: { code: 'LENGTH_REQUIRED', http: { status: 411 } },
        });
      }
      if (!/^\d+$/.test(declared)) {
        throw createGraphQLError('The Content-Length header is not a number.', {
          extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
        });
      }
      if (Number(declared) > limit) throw tooLarge(limit);
    },
  };
}
