import { randomUUID } from 'node:crypto';

export interface FilePart {
  /** Already cleaned by the caller; escaped again here so no name can break the part's headers. */
  filename: string;
  contentType: string;
  content: AsyncIterable<Uint8Array>;
}

/** What goes around the file's bytes: the caller streams `head`, the content, then `tail`. */
export interface MultipartEnvelope {
  contentType: string;
  head: Buffer;
  tail: Buffer;
}

/** Escapes a form-data parameter the way browsers do (WHATWG multipart/form-data encoding). */
function escapeParameter(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '%0D%0A').replace(/"/g, '%22');
}

/** A multipart/form-data body with one file field, around content streamed by the caller. */
export function multipartEnvelope(field: string, part: Pick<FilePart, 'filename' | 'contentType'>): MultipartEnvelope {
  // Unguessable per request, so no file content can be crafted to close the part early.
  const boundary = `----crm-photo-${randomUUID()}`;
  const head = Buffer.from(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${escapeParameter(field)}"; filename="${escapeParameter(part.filename)}"\r\n` +
      `Content-Type: ${part.contentType}\r\n\r\n`,
    'utf8',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  return { contentType: `multipart/form-data; boundary=${boundary}`, head, tail };
}
