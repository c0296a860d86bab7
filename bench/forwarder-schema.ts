import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { CRM_PATH } from './bodies.ts';

/**
 * The part of the gateway's schema the bench's own forwarders serve (the Yoga floor, the buffering baseline, the
 * Apollo peer), so the load generator's mutation and answer check fit all of them.
 */
export const FORWARDER_TYPE_DEFS = /* GraphQL */ `
  scalar Upload
  enum CrmModule { LEADS CONTACTS ACCOUNTS }
  interface CrmError { code: String! message: String! }
  type CrmServiceError implements CrmError { code: String! message: String! }
  type UploadedPhoto { filename: String! byteSize: Int! }
  type UploadRecordPhotoSuccess { message: String! photo: UploadedPhoto! }
  union UploadRecordPhotoResult = UploadRecordPhotoSuccess | CrmServiceError
  type Query { health: Boolean! }
  type Mutation { uploadRecordPhoto(module: CrmModule!, recordId: ID!, file: Upload!): UploadRecordPhotoResult! }
`;

export type ForwarderResult =
  | { __typename: 'UploadRecordPhotoSuccess'; message: string; photo: { filename: string; byteSize: number } }
  | { __typename: 'CrmServiceError'; code: string; message: string };

/** A GraphQL upload as both graphql-upload and graphql-upload-minimal hand it to a resolver. */
export interface StreamedFile {
  filename: string;
  mimetype: string;
  createReadStream(): NodeJS.ReadableStream;
}

const BOUNDARY = 'bench-forwarder-boundary';

async function* crmMultipart(file: StreamedFile, counted: { bytes: number }): AsyncGenerator<Uint8Array> {
  yield Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.mimetype}\r\n\r\n`);
  for await (const chunk of file.createReadStream() as AsyncIterable<Buffer>) {
    counted.bytes += chunk.length;
    yield chunk;
  }
  yield Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
}

/**
 * What the streaming forwarders (the Yoga floor, the Apollo peer) do with the file: stream it into an undici request
 * to the sink as the CRM's multipart, and turn the sink's answer into the mutation's result.
 */
export async function streamToSink(sink: Dispatcher, file: StreamedFile, authorization: string): Promise<ForwarderResult> {
  const counted = { bytes: 0 };
  const answer = await sink.request({
    path: CRM_PATH,
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, authorization },
    // undici streams any AsyncIterable body, though its types list only Readable.
    body: crmMultipart(file, counted) as unknown as Readable,
  });
  const json = (await answer.body.json()) as { code?: string; message?: string };
  if (json.code !== 'SUCCESS') return { __typename: 'CrmServiceError', code: json.code ?? 'UNEXPECTED_RESPONSE', message: json.message ?? '' };
  return { __typename: 'UploadRecordPhotoSuccess', message: json.message ?? '', photo: { filename: file.filename, byteSize: counted.bytes } };
}
