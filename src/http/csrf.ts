import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Headers a browser only sends after a CORS preflight: their presence proves the page was allowed to call us. */
export const PREFLIGHT_HEADERS = ['apollo-require-preflight', 'x-apollo-operation-name', 'graphql-require-preflight'] as const;

// A browser sends these content types (and GET) cross-site without asking first.
const SIMPLE_CONTENT_TYPES = ['multipart/form-data', 'application/x-www-form-urlencoded', 'text/plain'];

function isSimpleRequest(request: Request): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  const contentType = request.headers.get('content-type')?.toLowerCase() ?? '';
  return contentType === '' || SIMPLE_CONTENT_TYPES.some((simple) => contentType.startsWith(simple));
}

/**
 * Refuses requests a hostile page could send with the user's cookies and no preflight (an HTML form,
 * an <img src>), before anything is parsed, so they cannot reach the CRM.
 */
export function useCsrfPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      if (!isSimpleRequest(request)) return;
      if (PREFLIGHT_HEADERS.some((header) => request.headers.has(header))) return;
      throw createGraphQLError(
        `This request needs one of the headers ${PREFLIGHT_HEADERS.join(', ')} (protection against cross-site request forgery). apollo-upload-client users: send 'apollo-require-preflight: true'.`,
        { extensions: { code: 'CSRF_PREVENTED', http: { status: 403 } } },
      );
    },
  };
}
