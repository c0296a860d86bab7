import { createGraphQLError } from 'graphql-yoga';

/**
 * A problem with the multipart request itself (malformed, limits, a file that never came or broke off):
 * a GraphQL error with a 4xx status, never a 500 and never a field error under HTTP 200.
 */
export function multipartRequestError(error: unknown, fallbackMessage = 'The multipart request could not be read.') {
  const failure = error as { status?: unknown; cause?: { status?: unknown } } | null;
  const status = failure?.status ?? failure?.cause?.status;
  const httpStatus = typeof status === 'number' && status >= 400 && status < 500 ? status : 400;
  const message = error instanceof Error && error.message ? error.message : fallbackMessage;
  return createGraphQLError(message, {
    extensions: {
      code: httpStatus === 413 ? 'PAYLOAD_TOO_LARGE' : httpStatus === 408 ? 'UPLOAD_TIMEOUT' : 'BAD_MULTIPART_REQUEST',
      http: { status: httpStatus },
    },
  });
}
