/** How a CRM call that got no answer failed, from the errors undici (and the sockets under it) raise. */
export type TransportFailure = 'timeout' | 'unreachable' | 'connection-lost';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** The first string `code` on the error or its causes. */
function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** `stalled`: the caller's own stall timer fired, which is a timeout whatever the error says. */
export function classifyTransportError(error: unknown, stalled = false): { failure: TransportFailure; detail: string } {
  const code = errorCode(error);
  if (stalled || (code && TIMEOUTS.has(code))) return { failure: 'timeout', detail: code ?? 'no progress' };
  if (code && UNREACHABLE.has(code)) return { failure: 'unreachable', detail: code };
  return { failure: 'connection-lost', detail: code ?? (error instanceof Error ? error.name : 'unknown error') };
}
