import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import { processRequest, Upload, type FileUpload } from 'graphql-upload-minimal';
import { guardMultipartParser } from './parser-guard.ts';
import { multipartRequestError } from './request-errors.ts';

export interface NodeServerContext {
  req: IncomingMessage;
  res: ServerResponse;
}

export interface MultipartLimits {
  /** Bytes a file may have before it is cut off (the resolver refuses anything over its own limit first). */
  maxFileBytes: number;
  maxFiles: number;
  /** Bytes allowed for the `operations` and `map` fields. */
  maxFieldBytes: number;
  /** Bytes a body with no declared length may send before the connection is cut. */
  maxBodyBytes: number;
}

const MULTIPART = /^multipart\/form-data\b/i;

/**
 * Parses GraphQL multipart requests as a stream, straight off the Node request, instead of
 * Yoga's own parser (which buffers every file before resolvers run).
 */
export function useStreamingMultipart(limits: MultipartLimits): Plugin<Record<string, unknown>, NodeServerContext> {
  return {
    onRequestParse({ request, serverContext, setRequestParser }) {
      if (!MULTIPART.test(request.headers.get('content-type') ?? '')) return;
      const { req, res } = serverContext;
      if (!req || !res) throw new Error('streaming multipart parsing needs the Node request and response');
      setRequestParser(async () => {
        let operations: unknown;
        try {
          guardMultipartParser(req);
          // Media types are case-insensitive; processRequest looks for the lower-case spelling (the boundary keeps its case).
          req.headers['content-type'] = req.headers['content-type']!.replace(MULTIPART, 'multipart/form-data');
          const parsing = processRequest(req, res, {
            maxFileSize: limits.maxFileBytes,
            maxFiles: limits.maxFiles,
            maxFieldSize: limits.maxFieldBytes,
          });
          if (req.headers['content-length'] === undefined) capUndeclaredBody(req, limits.maxBodyBytes);
          operations = await parsing;
        } catch (error) {
          throw multipartRequestError(error);
        }
        drainUploadsOnceAnswered(operations, res);
        // Yoga validates the shape (query string, variables object) and answers 400 when it is wrong.
        return operations as Record<string, unknown>;
      });
    },
  };
}

/** A chunked body has no size to refuse up front: count it, and cut the connection once it runs past the limit. */
function capUndeclaredBody(req: IncomingMessage, maxBytes: number): void {
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received > maxBytes) {
      req.off('data', count);
      req.socket.destroy();
    }
  };
  req.on('data', count);
}

function collectUploads(value: unknown, found: Upload[], depth = 0): Upload[] {
  if (value instanceof Upload) found.push(value);
  else if (value !== null && typeof value === 'object' && depth < 32) {
    for (const child of Object.values(value)) collectUploads(child, found, depth + 1);
  }
  return found;
}

/**
 * Once the response is out, whatever is left of each file — never read, or read in part and let
 * go — is read off and dropped, so the client gets its answer and the connection stays usable.
 */
function drainUploadsOnceAnswered(operations: unknown, res: ServerResponse): void {
  for (const upload of collectUploads(operations, [])) {
    let handedOut: Readable | undefined;
    upload.promise.then(
      (file: FileUpload) => {
        const createReadStream = file.createReadStream.bind(file);
        file.createReadStream = () => (handedOut = createReadStream());
      },
      () => {},
    );
    const drain = () => {
      upload.promise.then(
        (file: FileUpload) => {
          let stream = handedOut;
          if (!stream) {
            try {
              stream = file.createReadStream();
            } catch {
              return; // the parser already failed this file
            }
          }
          if (stream.readableEnded || stream.destroyed) return;
          stream.on('error', () => {});
          stream.resume();
        },
        () => {},
      );
    };
    res.once('close', drain);
  }
}
