import { sniffImage, type SniffResult } from './image-sniffer.ts';
import type { StreamReader } from './stream-reader.ts';

export interface PhotoHead {
  /** The bytes read so far: at most the look-ahead, plus the chunk that crossed it. */
  bytes: Buffer;
  sniff: SniffResult;
}

/** Reads just enough of the upload to know what it is: until the sniffer decides, the file ends, or the look-ahead is spent. */
export async function readPhotoHead(reader: StreamReader, lookaheadBytes: number): Promise<PhotoHead> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const chunk = await reader.read();
    if (chunk !== null) {
      chunks.push(chunk);
      size += chunk.length;
    }
    const ended = chunk === null;
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    chunks.splice(0, chunks.length, bytes);
    const complete = ended || size >= lookaheadBytes;
    // Only the look-ahead counts, however the chunks fell, so the verdict never depends on chunking.
    const window = size > lookaheadBytes ? bytes.subarray(0, lookaheadBytes) : bytes;
    const sniff = size === 0 ? ({ status: 'need-more' } as const) : sniffImage(window, { complete });
    if (sniff.status !== 'need-more' || complete) return { bytes, sniff };
  }
}

/**
 * Reads on from the head until `lookaheadBytes` are in hand or the file ends. The CRM call, and the slot it holds,
 * start only after this: a client that sends a valid header and then stalls holds no slot. Memory stays the look-ahead.
 */
export async function readLookahead(head: Buffer, reader: StreamReader, lookaheadBytes: number): Promise<Buffer[]> {
  const chunks = [head];
  let size = head.length;
  while (size < lookaheadBytes) {
    const chunk = await reader.read();
    if (chunk === null) break;
    chunks.push(chunk);
    size += chunk.length;
  }
  return chunks;
}

/** The upload ran past the photo limit: whoever consumes the content stops, and the photo is refused. */
export class PhotoTooLargeError extends Error {
  override name = 'PhotoTooLargeError';
}

export interface PhotoContent {
  chunks: AsyncIterable<Uint8Array>;
  /** Bytes handed on so far: what the CRM receives. */
  readonly byteSize: number;
}

/** Rewrites the bytes as they pass (e.g. takes a JPEG's location out); returns what to hand on in their place. */
export interface ChunkFilter {
  push(chunk: Buffer): Buffer[];
  end(): Buffer[];
}

/**
 * The head's chunks, then the rest of the upload, through `filter` if given. Past `maxBytes` of upload it throws,
 * which aborts whatever consumes it. Without a filter the chunks go on as they are (no extra layer per chunk).
 */
export function photoContent(head: readonly Buffer[], reader: StreamReader, maxBytes: number, filter?: ChunkFilter): PhotoContent {
  const state = { received: 0, byteSize: 0 };
  const count = (chunk: Buffer) => {
    if (state.received + chunk.length > maxBytes) throw new PhotoTooLargeError(`the photo is larger than ${maxBytes} bytes`);
    state.received += chunk.length;
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const chunk of head) {
      count(chunk);
      state.byteSize += chunk.length;
      yield chunk;
    }
    for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
      count(chunk);
      state.byteSize += chunk.length;
      yield chunk;
    }
  }
  async function* filtered(filter: ChunkFilter): AsyncGenerator<Uint8Array> {
    const pass = function* (parts: Buffer[]) {
      for (const part of parts) {
        state.byteSize += part.length;
        yield part;
      }
    };
    for (const chunk of head) {
      count(chunk);
      yield* pass(filter.push(chunk));
    }
    for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
      count(chunk);
      yield* pass(filter.push(chunk));
    }
    yield* pass(filter.end());
  }
  return {
    chunks: filter ? filtered(filter) : chunks(),
    get byteSize() {
      return state.byteSize;
    },
  };
}

/** The whole upload in memory, head first: for a photo the gateway must decode. Past `maxBytes` it throws PhotoTooLargeError. */
export async function readWholePhoto(head: Buffer, reader: StreamReader, maxBytes: number): Promise<Buffer> {
  const chunks = [head];
  let size = head.length;
  if (size > maxBytes) throw new PhotoTooLargeError(`the photo is larger than ${maxBytes} bytes`);
  for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
    size += chunk.length;
    if (size > maxBytes) throw new PhotoTooLargeError(`the photo is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
