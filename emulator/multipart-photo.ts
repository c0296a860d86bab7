/** Streams a multipart body through busboy and collects the one file part the photo endpoint wants. */
import busboy from 'busboy';
import type { Readable } from 'node:stream';
import type { LoggedFile } from './state.ts';

export type FilePartOutcome =
  | { kind: 'file'; file: LoggedFile; bytes: Buffer | null /* null once the file passed maxBytes */ }
  | { kind: 'missing' }
  | { kind: 'malformed'; reason: string };

export interface FilePartCollector {
  /** The writable side to pipe the request body into. */
  readonly parser: busboy.Busboy;
  readonly outcome: Promise<FilePartOutcome>;
}

// Fields are skipped unread; these only stop a hostile body from making the parser work forever.
const LIMITS: busboy.Limits = { parts: 100, headerPairs: 100, fieldNameSize: 200 };

/** True for `multipart/form-data` (any parameters), the only body the endpoint accepts. */
export function isMultipartFormData(contentType: string | undefined): boolean {
  return contentType !== undefined && /^\s*multipart\/form-data\s*(;|$)/i.test(contentType);
}

/**
 * Creates a parser that keeps the first file part named `fieldName` in memory up to `maxBytes`
 * (counting, but no longer keeping, anything past that). Throws if the headers cannot be parsed
 * as multipart (e.g. no boundary). `onFile` receives the live log record as soon as the part starts.
 */
export function collectFilePart(
  headers: Record<string, string | string[] | undefined>,
  fieldName: string,
  maxBytes: number,
  onFile: (file: LoggedFile) => void,
): FilePartCollector {
  // Browsers send UTF-8 file names raw; the path is kept so the stored name is exactly what was sent.
  const parser = busboy({ headers, defParamCharset: 'utf8', preservePath: true, limits: LIMITS });
  const outcome = new Promise<FilePartOutcome>((resolve) => {
    let found: { file: LoggedFile; chunks: Buffer[] | null } | undefined;

    parser.on('file', (name: string, stream: Readable, info: busboy.FileInfo) => {
      stream.on('error', () => {}); // a truncated part errors here and again on the parser, which reports it
      if (name !== fieldName || found !== undefined) {
        stream.resume();
        return;
      }
      const file: LoggedFile = { filename: info.filename ?? null, contentType: info.mimeType, size: 0 };
      const current: { file: LoggedFile; chunks: Buffer[] | null } = { file, chunks: [] };
      found = current;
      onFile(file);
      stream.on('data', (chunk: Buffer) => {
        file.size += chunk.length;
        if (current.chunks === null) return;
        if (file.size > maxBytes) current.chunks = null; // over the limit: the answer is decided, stop holding bytes
        else current.chunks.push(chunk);
      });
    });
    parser.on('error', (error: unknown) => {
      found = undefined;
      resolve({ kind: 'malformed', reason: error instanceof Error ? error.message : String(error) });
    });
    parser.on('finish', () => {
      if (found === undefined) return resolve({ kind: 'missing' });
      const bytes = found.chunks === null ? null : Buffer.concat(found.chunks);
      resolve({ kind: 'file', file: found.file, bytes });
    });
  });
  return { parser, outcome };
}
