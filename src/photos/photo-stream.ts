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
  /** Bytes handed on so far. */
  readonly byteSize: number;
}

/** The head's chunks, then the rest of the upload, counted: past `maxBytes` it throws, which aborts whatever consumes it. */
export function photoContent(head: readonly Buffer[], reader: StreamReader, maxBytes: number): PhotoContent {
  const state = { byteSize: 0 };
  const count = (chunk: Buffer) => {
    if (state.byteSize + chunk.length > maxBytes) throw new PhotoTooLargeError(`the photo is larger than ${maxBytes} bytes`);
    state.byteSize += chunk.length;
  };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const chunk of head) {
      count(chunk);
      yield chunk;
    }
    for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
      count(chunk);
      yield chunk;
    }
  }
  return {
    chunks: chunks(),
    get byteSize() {
      return state.byteSize;
    },
  };
}
