import { request as httpRequest } from 'node:http';
import { BOUNDARY, uploadParts } from './raw-multipart.ts';

export interface SlowUploadOptions {
  /** File bytes sent at once, right after the multipart head (e.g. a valid image header and padding). */
  lead: Uint8Array;
  /** Then `bytes` more file bytes every `everyMs`, until the gateway answers or the client gives up. */
  trickle: { bytes: number; everyMs: number };
  /** The client gives up (drops the connection) after this long. */
  giveUpAfterMs: number;
  recordId?: string;
  /** Replace or (with '') remove default headers, e.g. another caller's Authorization. */
  headers?: Record<string, string>;
}

export interface SlowUploadResult {
  /** The gateway's HTTP status, or null when the client gave up before any answer. */
  status: number | null;
  json: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
  /** From the first byte sent to the answer (or to giving up). */
  elapsedMs: number;
  /** File bytes the client got to send. */
  fileBytesSent: number;
}

/**
 * An upload that sends its head and `lead` at once, then dribbles: what a hostile (or very slow) client does.
 * The body declares 10 MB, so the gateway never sees it end on its own.
 */
export function slowUpload(url: string, options: SlowUploadOptions): Promise<SlowUploadResult> {
  const parts = uploadParts(options.recordId ? { recordId: options.recordId } : {});
  let head = '';
  for (const part of parts) head += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`;
  head += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="0"; filename="slow.png"\r\nContent-Type: image/png\r\n\r\n`;
  const headers: Record<string, string> = {
    'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
    'content-length': String(head.length + 10_000_000),
    authorization: 'Zoho-oauthtoken emulator-token',
    'apollo-require-preflight': 'true',
    accept: 'application/graphql-response+json,application/json;q=0.9',
    ...options.headers,
  };
  for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];

  return new Promise((resolve) => {
    const started = performance.now();
    let fileBytesSent = 0;
    let settled = false;
    const filler = Buffer.alloc(options.trickle.bytes, 0x41);
    const req = httpRequest(url, { method: 'POST', headers, agent: false });
    const finish = (status: number | null, text: string) => {
      if (settled) return;
      settled = true;
      clearInterval(dribble);
      clearTimeout(giveUp);
      req.destroy();
      let json: SlowUploadResult['json'] = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      resolve({ status, json, elapsedMs: performance.now() - started, fileBytesSent });
    };
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => finish(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
      response.on('error', () => finish(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', () => finish(null, ''));
    req.on('close', () => finish(null, ''));
    req.write(head);
    req.write(options.lead);
    fileBytesSent += options.lead.length;
    const dribble = setInterval(() => {
      if (req.destroyed) return;
      req.write(filler);
      fileBytesSent += filler.length;
    }, options.trickle.everyMs);
    const giveUp = setTimeout(() => finish(null, ''), options.giveUpAfterMs);
  });
}
