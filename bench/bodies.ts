/**
 * The request bodies, built once in memory: the same padded PNG bytes for every target, wrapped either as the
 * GraphQL multipart request (gateway, raw proxy, buffering baseline) or as the CRM's plain multipart (sink).
 * Each request gets a numbered copy of the small prefix (its file name carries the id the sink reports back);
 * the file bytes themselves are shared and sent as zero-copy slices.
 */
import { png, withPadding } from '../test/fixtures/images.ts';

export type BodyShape = 'graphql' | 'plain';

export const BENCH_TOKEN = 'bench-token';
export const RECORD_ID = '1000000000001';
export const CRM_PATH = `/crm/v7/Leads/${RECORD_ID}/photo`;
/** Bytes per write once the file part starts: the stream granularity the sink and gateway see. */
export const FILE_CHUNK_BYTES = 64 * 1024;

const BOUNDARY = '----bench-boundary-4f1c9a7e2b';
const ID_DIGITS = 10;
const ID_PLACEHOLDER = '#'.repeat(ID_DIGITS);

export const UPLOAD_QUERY =
  'mutation ($file: Upload!) { uploadRecordPhoto(module: LEADS, recordId: "' +
  RECORD_ID +
  '", file: $file) { __typename ... on UploadRecordPhotoSuccess { message photo { filename byteSize } } ' +
  '... on CrmError { code message } } }';

/** `bench-0000000042.png` → 42; the sink reads ids back from the file name the CRM receives. */
export const FILENAME_ID = /filename="bench-(\d{10})\.png"/;

export interface BodyTemplate {
  shape: BodyShape;
  contentType: string;
  /** Everything before the file bytes, with the id placeholder at `idOffset`. */
  prefix: Buffer;
  idOffset: number;
  file: Buffer;
  tail: Buffer;
  /** prefix + file + tail. */
  length: number;
}

export function fileBytes(size: number): Buffer {
  const bytes = withPadding(png(64, 64), size);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function filePartHead(field: string): string {
  return (
    `--${BOUNDARY}\r\n` +
    `Content-Disposition: form-data; name="${field}"; filename="bench-${ID_PLACEHOLDER}.png"\r\n` +
    `Content-Type: image/png\r\n\r\n`
  );
}

export function bodyTemplate(shape: BodyShape, file: Buffer): BodyTemplate {
  let head: string;
  if (shape === 'plain') {
    head = filePartHead('file');
  } else {
    const operations = JSON.stringify({ query: UPLOAD_QUERY, variables: { file: null } });
    head =
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="map"\r\n\r\n${JSON.stringify({ 0: ['variables.file'] })}\r\n` +
      filePartHead('0');
  }
  const prefix = Buffer.from(head, 'latin1');
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`, 'latin1');
  return {
    shape,
    contentType: `multipart/form-data; boundary=${BOUNDARY}`,
    prefix,
    idOffset: prefix.indexOf(ID_PLACEHOLDER, 0, 'latin1'),
    file,
    tail,
    length: prefix.length + file.length + tail.length,
  };
}

export function numberedPrefix(template: BodyTemplate, id: number): Buffer {
  const prefix = Buffer.from(template.prefix);
  prefix.write(String(id).padStart(ID_DIGITS, '0'), template.idOffset, 'latin1');
  return prefix;
}

/** The body as a stream of writes; `onFirstFileByte` runs just before the first file byte is handed to the socket. */
export async function* streamBody(template: BodyTemplate, id: number, onFirstFileByte: () => void): AsyncGenerator<Buffer> {
  yield numberedPrefix(template, id);
  const { file } = template;
  for (let offset = 0; offset < file.length; offset += FILE_CHUNK_BYTES) {
    if (offset === 0) onFirstFileByte();
    yield file.subarray(offset, offset + FILE_CHUNK_BYTES);
  }
  yield template.tail;
}
