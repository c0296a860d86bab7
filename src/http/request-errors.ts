import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { UploadStreamError } from '../photos/stream-reader.ts';

function requestErrorCode(httpStatus: number): string {
  return httpStatus === 413 ? 'PAYLOAD_TOO_LARGE' : httpStatus === 408 ? 'UPLOAD_TIMEOUT' : 'BAD_MULTIPART_REQUEST';
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * A problem with the multipart request itself (malformed, limits, a file that never came or broke off):
 * a GraphQL error with a 4xx status, never a 500 and never a field error under HTTP 200.
 */
export function multipartRequestError(error: unknown) {
  const httpStatus = statusOf(error) ?? 400;
  const message = error instanceof Error && error.message ? error.message : 'The multipart request could not be read.';
  return createGraphQLError(message, { extensions: { code: requestErrorCode(httpStatus), http: { status: httpStatus } } });
}

/** The client's upload broke off, went quiet, moved too slowly or left, mid-request: 400 (or the parser's own 4xx), 408, or 499. */
export function uploadStreamRequestError(error: UploadStreamError) {
  const httpStatus =
    error.failure === 'idle' || error.failure === 'too-slow' ? 408 : error.failure === 'client-gone' ? 499 : (statusOf(error.cause) ?? 400);
  return createGraphQLError(error.message, { extensions: { code: requestErrorCode(httpStatus), http: { status: httpStatus } } });
}

/**
 * Request errors the way the README promises them — a 4xx with an extensions.code:
 * - a POST no parser takes (no content type, text/plain, multipart/mixed) gets a GraphQL body with its 415;
 * - a document nested deeper than graphql-js's recursive parser can go is a 400, not a stack overflow (500);
 * - variable-coercion errors (a 400 with no data) get BAD_USER_INPUT.
 */
export function useRequestErrorCodes(): Plugin {
  return {
    onRequestParse({ request, requestParser }) {
      if (request.method === 'POST' && requestParser == null) {
        throw createGraphQLError(
          `Unsupported content type '${request.headers.get('content-type') ?? ''}': send multipart/form-data (uploads) or application/json.`,
          { extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', http: { status: 415 } } },
        );
      }
    },
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, options);
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          throw createGraphQLError('The document is nested too deeply.', { extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } } });
        }
      });
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.length || result.data != null) return;
          setResult({
            ...result,
            errors: result.errors.map((error) =>
              error.extensions?.code
                ? error
                : createGraphQLError(error.message, {
                    nodes: error.nodes,
                    source: error.source,
                    positions: error.positions,
                    path: error.path,
                    originalError: error.originalError,
                    extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
                  }),
            ),
          });
        },
      };
    },
  };
}
