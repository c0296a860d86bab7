import { request as httpRequest, type ClientRequest } from 'node:http';
import { UPLOAD_MUTATION } from './upload-client.ts';

export interface RawPart {
  name: string;
  value?: string;
  /** Sent as `filename="…"` verbatim (no escaping): for hostile names. */
  filename?: string;
  /** Sent as RFC 5987 `filename*=UTF-8''…`, percent-encoded: the way to deliver CR/LF and quotes to a server. */
  filenameStar?: string;
  contentType?: string;
  data?: Uint8Array;
}

export const BOUNDARY = '----raw-test-boundary-7MA4YWxkTrZu0gW';

/** A multipart/form-data body built byte by byte, so tests can send what no well-behaved client would. */
export function multipartBody(parts: RawPart[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let disposition = `form-data; name="${part.name}"`;
    if (part.filename !== undefined) disposition += `; filename="${part.filename}"`;
    if (part.filenameStar !== undefined) disposition += `; filename*=UTF-8''${encodeURIComponent(part.filenameStar)}`;
    let head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n`;
    if (part.contentType) head += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`, 'utf8'), Buffer.from(part.data ?? Buffer.from(part.value ?? '', 'utf8')), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** The usual operations and map parts for one file in `variables.file`. */
export function uploadParts(variables: Record<string, unknown> = {}): RawPart[] {
  return [
    {
      name: 'operations',
      value: JSON.stringify({
        query: UPLOAD_MUTATION,
        variables: { module: 'LEADS', recordId: '1000000000001', file: null, ...variables },
      }),
    },
    { name: 'map', value: JSON.stringify({ 0: ['variables.file'] }) },
  ];
}

export interface RawResponse {
  status: number;
  text: string;
  json: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
}

export interface RawPostOptions {
  headers?: Record<string, string>;
  /** false: send none of the headers that prove a CORS preflight (as a plain HTML form would). */
  preflightHeader?: boolean;
  contentType?: string;
  /** Writes the body; default writes `body` at once. Left open for slow or broken clients. */
  write?: (request: ClientRequest) => Promise<void>;
  body?: Buffer;
}

/** POSTs with node:http, so a test controls every header and when each byte leaves. */
export function postRaw(url: string, options: RawPostOptions): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
        'content-type': options.contentType ?? `multipart/form-data; boundary=${BOUNDARY}`,
        authorization: 'Zoho-oauthtoken emulator-token',
        ...(options.preflightHeader === false ? {} : { 'apollo-require-preflight': 'true' }),
        // what Apollo Client sends: with it, request errors come back as 4xx
        accept: 'application/graphql-response+json,application/json;q=0.9',
        ...(options.body ? { 'content-length': String(options.body.length) } : {}),
        ...options.headers,
    };
    // an empty value in options.headers removes that header
    for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];
    const request = httpRequest(url, { method: 'POST', headers });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: RawResponse['json'] = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        resolve({ status: response.statusCode ?? 0, text, json });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    if (options.write) {
      options.write(request).catch(reject);
    } else {
      request.end(options.body);
    }
  });
}
