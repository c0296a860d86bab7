/**
 * HTTP/1.1 over a bare TCP socket: the test writes every byte (request line, headers, framing) itself, so it can
 * lie about Content-Length, break chunk sizes or stop half-way — and reads back whatever the server does.
 */
import { connect } from 'node:net';

export interface RawExchange {
  /** The HTTP status, or null when no complete response head came back. */
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** Parsed JSON body, or null. */
  json: { data?: unknown; errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | null;
  /** The server closed (or reset) the connection, rather than our timeout firing. */
  closedByServer: boolean;
  /** We gave up waiting: the server neither answered in full nor closed within the time allowed. */
  timedOut: boolean;
}

export interface RawSendOptions {
  /** Bytes after the head; written in one go unless `pieces` splits them. */
  body?: Buffer;
  /** Half-close our side (FIN) once everything is written, as a client that gives up does. Default false: Node aborts a request whose client half-closes. */
  end?: boolean;
  /** Wait at most this long for the answer, then destroy the socket. */
  timeoutMs?: number;
  /** Stop as soon as a complete response is in (default), or wait for the server to close the connection too. */
  waitForClose?: boolean;
}

/** The usual request head for a GraphQL multipart POST; `extra` lines are appended verbatim. */
export function requestHead(
  url: URL,
  options: { contentType?: string | null; contentLength?: number | null; chunked?: boolean; extra?: string[] } = {},
): string {
  const lines = [`POST ${url.pathname} HTTP/1.1`, `Host: ${url.host}`];
  if (options.contentType !== null && options.contentType !== undefined) lines.push(`Content-Type: ${options.contentType}`);
  if (options.contentLength !== null && options.contentLength !== undefined) lines.push(`Content-Length: ${options.contentLength}`);
  if (options.chunked) lines.push('Transfer-Encoding: chunked');
  lines.push(
    'Authorization: Zoho-oauthtoken emulator-token',
    'apollo-require-preflight: true',
    'Accept: application/graphql-response+json,application/json;q=0.9',
    ...(options.extra ?? []),
  );
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function sendRaw(url: URL, head: string | Buffer, options: RawSendOptions = {}): Promise<RawExchange> {
  const { body, end = false, timeoutMs = 5_000, waitForClose = false } = options;
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    let settled = false;
    let timedOut = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponse(Buffer.concat(received)), closedByServer, timedOut });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish(false);
    }, timeoutMs);
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (!waitForClose && parseResponse(Buffer.concat(received)).complete) finish(false);
    });
    socket.on('connect', () => {
      socket.write(head);
      if (body) socket.write(body);
      if (end) socket.end();
    });
  });
}

function parseResponse(bytes: Buffer): Omit<RawExchange, 'closedByServer' | 'timedOut'> & { complete: boolean } {
  const empty = { status: null, headers: {}, body: '', json: null, complete: false };
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd === -1) return empty;
  const [statusLine, ...headerLines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? NaN);
  if (!Number.isInteger(status)) return empty;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = bytes.subarray(headEnd + 4);
  let complete = false;
  let bodyBytes: Buffer = rest;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd === -1) break;
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size)) break;
      if (size === 0) {
        complete = true;
        break;
      }
      if (rest.length < lineEnd + 2 + size + 2) break;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    bodyBytes = Buffer.concat(chunks);
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    complete = rest.length >= length;
    bodyBytes = rest.subarray(0, length);
  }
  const body = bodyBytes.toString('utf8');
  let json: RawExchange['json'] = null;
  try {
    json = JSON.parse(body);
  } catch {
    json = null;
  }
  return { status, headers, body, json, complete };
}
