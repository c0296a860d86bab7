import type { ServerOptions } from 'node:http';

/**
 * Node's own clocks on each connection, set so that no phase of a request can be held open for long:
 * - `headersTimeout` (HEADERS_TIMEOUT_MS): from the connection's start, or from the first byte of each further request
 *   on it, to the end of the request's headers. It also closes a socket that never sends a byte: Node starts that
 *   clock when the connection opens (measured: without it, such a socket lived 60–90 s on Node's defaults).
 * - `connectionsCheckingInterval`: how often Node looks for connections past those clocks. Node's 30 s default would
 *   let a silent socket live up to 30 s past its timeout; a quarter of the headers timeout (at most 1 s) keeps it close.
 * - `requestTimeout`: the whole request, body included — the backstop behind UPLOAD_MAX_SECONDS (which counts from the
 *   file's first byte), with room for the headers and the fields before the file. A body still draining after its
 *   answer (a refused upload) is cut there too.
 * - Keep-alive stays Node's: an idle connection between requests is closed after 5 s (keepAliveTimeout, plus its
 *   1 s buffer). A server-wide socket `timeout` stays off: it would cut an upload whose client waits, silent, on a slow CRM.
 */
export function serverTimeouts(options: { headersTimeoutMs: number; uploadMaxSeconds: number }): ServerOptions {
  const headersTimeout = options.headersTimeoutMs;
  return {
    headersTimeout,
    requestTimeout: headersTimeout + options.uploadMaxSeconds * 1000 + 30_000,
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(headersTimeout / 4))),
  };
}
