import { inflateSync, crc32 } from 'node:zlib';
import { describe, it, expect } from 'vitest';
import { jpegScansSeparately, type ImageFormat, type SniffResult } from '../../src/photos/image-sniffer.ts';
import { SNIFF_LOOKAHEAD_BYTES } from '../../src/photos/limits.ts';
import {
  JPEG_MARKER,
  JPEG_MAX_SEGMENT_PAYLOAD,
  asciiBytes,
  bmp,
  commentSegment,
  concatBytes,
  exifSegment,
  gif,
  iccSegment,
  jpeg,
  jpegSegment,
  jpegSegments,
  knownGood,
  pdf,
  png,
  pngChunk,
  setBmpDimensions,
  setJpegDimensions,
  setJpegFrameMarker,
  setPngDimensions,
  textFile,
  webp,
  withJpegSegments,
  withPadding,
} from '../fixtures/images.ts';
import { chunkingCases, feedInChunks, sniff } from './sniff-helpers.ts';

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const MIME_TYPES = { PNG: 'image/png', JPEG: 'image/jpeg', GIF: 'image/gif', BMP: 'image/bmp' } as const;
const NEED_MORE: SniffResult = { status: 'need-more' };
const NOT_AN_IMAGE = 'not a PNG, JPEG, GIF or BMP file';
const INT32_MAX = 2 ** 31 - 1;

function imageOf(format: ImageFormat, width: number, height: number, progressive = false): SniffResult {
  return { status: 'image', image: { format, mimeType: MIME_TYPES[format], width, height, ...(progressive ? { progressive: true } : {}) } };
}

function unsupported(reason: string): SniffResult {
  return { status: 'unsupported', reason };
}

/** Deterministic pseudo-random bytes (mulberry32), so a failure can be replayed. */
function randomBytes(seed: number, length: number): Uint8Array {
  let state = seed >>> 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

function withByte(file: Uint8Array, offset: number, value: number): Uint8Array {
  const out = file.slice();
  out[offset] = value;
  return out;
}

/** Offset of the frame header's 0xFF in a JPEG from the fixtures. */
function frameHeaderOffset(file: Uint8Array): number {
  const frame = jpegSegments(file).find((segment) => [0xc0, 0xc2].includes(segment.marker));
  if (frame === undefined) throw new Error('fixture has no SOF0/SOF2');
  return frame.offset;
}

const SOI = Uint8Array.of(0xff, 0xd8);

/** Checks what every answer must satisfy, whatever the input. */
function expectWellFormed(answer: SniffResult, complete: boolean): void {
  if (complete) expect(answer.status).not.toBe('need-more');
  if (answer.status === 'image') {
    const { format, mimeType, width, height } = answer.image;
    expect(mimeType).toBe(MIME_TYPES[format]);
    for (const dimension of [width, height]) {
      expect(Number.isInteger(dimension)).toBe(true);
      expect(dimension).toBeGreaterThan(0);
      expect(dimension).toBeLessThanOrEqual(INT32_MAX);
    }
  }
  if (answer.status === 'unsupported') expect(answer.reason.length).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------------------------
// The fixtures themselves: other tests rely on them being real files.

/** PNG chunks in order: type, data and whether the stored CRC matches. */
function pngChunks(file: Uint8Array): { type: string; data: Buffer; crcOk: boolean }[] {
  const buffer = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const chunks = [];
  for (let offset = 8; offset < buffer.length; ) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    const data = buffer.subarray(offset + 8, offset + 8 + length);
    const crcOk = buffer.readUInt32BE(offset + 8 + length) === crc32(buffer.subarray(offset + 4, offset + 8 + length));
    chunks.push({ type, data, crcOk });
    offset += 12 + length;
  }
  return chunks;
}

/** Decodes a GIF's first frame's LZW codes as a string table, returning the pixel count and the colours used. */
function decodeGifPixels(file: Uint8Array): { pixels: number; colours: Set<number> } {
  const flags = file[10] ?? 0;
  let offset = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);
  while (file[offset] === 0x21) offset = skipSubBlocks(file, offset + 2);
  if (file[offset] !== 0x2c) throw new Error('no image descriptor');
  const minCodeSize = file[offset + 10] ?? 0;
  const data: number[] = [];
  for (offset += 11; (file[offset] ?? 0) > 0; offset += (file[offset] ?? 0) + 1) {
    data.push(...file.subarray(offset + 1, offset + 1 + (file[offset] ?? 0)));
  }
  const clear = 1 << minCodeSize;
  // Each table entry is kept as its length and first colour; its other colours were recorded when it was made.
  let lengths: number[] = [];
  let firsts: number[] = [];
  let codeSize = 0;
  let previous = -1;
  const reset = (): void => {
    lengths = Array.from({ length: clear + 2 }, (_, code) => (code < clear ? 1 : 0));
    firsts = Array.from({ length: clear + 2 }, (_, code) => code);
    codeSize = minCodeSize + 1;
    previous = -1;
  };
  reset();
  const colours = new Set<number>();
  let pixels = 0;
  for (let bitPos = 0; ; ) {
    let code = 0;
    for (let bit = 0; bit < codeSize; bit++, bitPos++) code |= (((data[bitPos >> 3] ?? 0) >> (bitPos & 7)) & 1) << bit;
    if (bitPos > data.length * 8) throw new Error('LZW data ran out before the end code');
    if (code === clear) {
      reset();
      continue;
    }
    if (code === clear + 1) break;
    if (previous === -1 ? code >= clear : code > lengths.length) throw new Error(`code ${code} is not defined yet`);
    if (previous !== -1 && lengths.length < 4096) {
      // The new entry is the previous string plus the first colour of this one (of itself, if it is this one).
      const last = code === lengths.length ? (firsts[previous] ?? 0) : (firsts[code] ?? 0);
      lengths.push((lengths[previous] ?? 0) + 1);
      firsts.push(firsts[previous] ?? 0);
      colours.add(last);
    }
    colours.add(firsts[code] ?? 0);
    pixels += lengths[code] ?? 0;
    previous = code;
    if (lengths.length === 1 << codeSize && codeSize < 12) codeSize++;
  }
  return { pixels, colours };
}

function skipSubBlocks(file: Uint8Array, offset: number): number {
  while ((file[offset] ?? 0) > 0) offset += (file[offset] ?? 0) + 1;
  return offset + 1;
}

describe('image fixtures', () => {
  it('builds the known-good files byte for byte', () => {
    expect(jpeg(8, 8)).toEqual(knownGood('jpeg8x8'));
    expect(jpeg(16, 16, { progressive: true })).toEqual(knownGood('progressiveJpeg16x16'));
    expect(png(1, 1)).toEqual(knownGood('png1x1'));
    expect(gif(1, 1)).toEqual(knownGood('gif1x1'));
    expect(bmp(2, 2)).toEqual(knownGood('bmp2x2'));
  });

  it('builds PNGs whose chunks are in order, CRC-checked and inflate to every scanline', () => {
    const chunks = pngChunks(png(4000, 3000));
    expect(chunks.map((chunk) => chunk.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(chunks.every((chunk) => chunk.crcOk)).toBe(true);
    expect(inflateSync(chunks[1]!.data).length).toBe(3000 * (1 + 500));
    expect(png(4000, 3000).length).toBeLessThan(4096);
  });

  it('builds GIFs whose LZW data decodes to exactly width x height pixels of colour 0', () => {
    // 4000x3000 fills the 4096-code dictionary, so the clear-and-restart path is decoded too.
    for (const [width, height] of [[1, 1], [13, 7], [300, 200], [4000, 3000]] as const) {
      expect(decodeGifPixels(gif(width, height))).toEqual({ pixels: width * height, colours: new Set([0]) });
    }
    // Every length up to 3000 pixels: the end code's width depends on where the last code falls.
    for (let width = 1; width <= 3000; width++) expect(decodeGifPixels(gif(width, 1)).pixels).toBe(width);
  });

  it('builds BMPs whose headers agree with their size and pixel array', () => {
    const file = Buffer.from(bmp(13, 7, { topDown: true }));
    const rowBytes = 40; // 13 pixels x 3 bytes, padded to a multiple of 4
    expect(file.readUInt32LE(2)).toBe(file.length);
    expect(file.readUInt32LE(10) + rowBytes * 7).toBe(file.length);
    expect(file.readInt32LE(22)).toBe(-7);
    expect(bmp(4000, 3000, { bitsPerPixel: 1 }).length).toBe(14 + 40 + 8 + 500 * 3000);
  });

  it('builds JPEGs whose segments lead from SOI through the scans to EOI', () => {
    const file = jpeg(4000, 3000);
    expect(jpegSegments(file).map((segment) => segment.marker)).toEqual([
      JPEG_MARKER.APP0,
      JPEG_MARKER.DQT,
      JPEG_MARKER.SOF0,
      JPEG_MARKER.DHT,
      JPEG_MARKER.SOS,
    ]);
    const sos = jpegSegments(file).at(-1)!;
    // 500 x 375 blocks at 2 bits each, then EOI.
    expect(file.length - (sos.offset + 2 + sos.length)).toBe((500 * 375 * 2) / 8 + 2);
    expect([...file.subarray(-2)]).toEqual([0xff, JPEG_MARKER.EOI]);
  });

  it('pads every format to an exact size and keeps it sniffable', () => {
    const cases = [
      [png(20, 10), 'PNG'],
      [jpeg(20, 10), 'JPEG'],
      [gif(20, 10), 'GIF'],
      [bmp(20, 10), 'BMP'],
    ] as const;
    for (const [file, format] of cases) {
      // +260 and +65_539 leave a remainder too small for one more GIF sub-block or JPEG segment.
      const extras = [0, 12, 260, 65_539, 70_000, 10 * 1024 * 1024 + 1 - file.length];
      for (const total of extras.map((extra) => file.length + extra)) {
        const padded = withPadding(file, total);
        expect(padded.length).toBe(total);
        expect(sniff(padded.subarray(0, SNIFF_LOOKAHEAD_BYTES))).toEqual(imageOf(format, 20, 10));
      }
    }
    expect(bmp(5, 5, { padToBytes: 5000 }).length).toBe(5000);
    expect(pngChunks(withPadding(png(3, 3), 5000)).every((chunk) => chunk.crcOk)).toBe(true);
    expect(() => withPadding(png(3, 3), png(3, 3).length + 5)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// PNG

describe('sniffImage: PNG', () => {
  it('reads width and height from IHDR', () => {
    expect(sniff(png(1, 1))).toEqual(imageOf('PNG', 1, 1));
    expect(sniff(png(13, 7))).toEqual(imageOf('PNG', 13, 7));
    expect(sniff(png(4000, 3000))).toEqual(imageOf('PNG', 4000, 3000));
  });

  it('needs exactly the first 29 bytes: up to the interlace method', () => {
    const file = png(640, 480);
    expect(sniff(file.subarray(0, 28), false)).toEqual(NEED_MORE);
    expect(sniff(file.subarray(0, 29), false)).toEqual(imageOf('PNG', 640, 480));
  });

  it('says an interlaced (Adam7) PNG is progressive: a decoder holds all of it', () => {
    expect(sniff(withByte(png(640, 480), 28, 1))).toEqual(imageOf('PNG', 640, 480, true));
  });

  it('accepts the largest signed 32-bit dimensions and rejects anything larger', () => {
    const file = png(1, 1);
    expect(pngChunks(setPngDimensions(file, 2 ** 32 - 1, 7)).every((chunk) => chunk.crcOk)).toBe(true);
    expect(sniff(setPngDimensions(file, INT32_MAX, INT32_MAX))).toEqual(imageOf('PNG', INT32_MAX, INT32_MAX));
    expect(sniff(setPngDimensions(file, 2 ** 31, 1))).toEqual(unsupported('PNG width exceeds 2147483647'));
    expect(sniff(setPngDimensions(file, 1, 2 ** 32 - 1))).toEqual(unsupported('PNG height exceeds 2147483647'));
  });

  it('rejects an oversized width as soon as its top byte arrives', () => {
    const file = setPngDimensions(png(1, 1), 0x8000_0000, 1);
    expect(sniff(file.subarray(0, 17), false)).toEqual(unsupported('PNG width exceeds 2147483647'));
  });

  it('rejects zero dimensions', () => {
    expect(sniff(setPngDimensions(png(1, 1), 0, 5))).toEqual(unsupported('PNG width is zero'));
    expect(sniff(setPngDimensions(png(1, 1), 5, 0))).toEqual(unsupported('PNG height is zero'));
  });

  it('requires IHDR, 13 bytes long, as the first chunk', () => {
    const file = png(4, 4);
    const textFirst = concatBytes(file.subarray(0, 8), pngChunk('tEXt', asciiBytes('Title\0x')), file.subarray(8));
    expect(sniff(textFirst)).toEqual(unsupported('the first PNG chunk is not a 13-byte IHDR'));
    expect(sniff(withByte(file, 11, 14))).toEqual(unsupported('the first PNG chunk is not a 13-byte IHDR'));
    // A wrong length byte is decisive before the chunk type arrives.
    expect(sniff(withByte(file, 11, 14).subarray(0, 12), false)).toEqual(
      unsupported('the first PNG chunk is not a 13-byte IHDR'),
    );
  });

  it('treats a damaged signature as an unknown format', () => {
    expect(sniff(withByte(png(4, 4), 7, 0x00))).toEqual(unsupported(NOT_AN_IMAGE));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// JPEG

describe('sniffImage: JPEG', () => {
  it('reads height and width from a baseline frame header', () => {
    expect(sniff(knownGood('jpeg8x8'))).toEqual(imageOf('JPEG', 8, 8));
    expect(sniff(jpeg(13, 7))).toEqual(imageOf('JPEG', 13, 7));
    expect(sniff(jpeg(4000, 3000))).toEqual(imageOf('JPEG', 4000, 3000));
  });

  it('reads a progressive frame header', () => {
    expect(sniff(jpeg(40, 30, { progressive: true }))).toEqual(imageOf('JPEG', 40, 30, true));
    expect(sniff(setJpegFrameMarker(jpeg(40, 30), JPEG_MARKER.SOF2))).toEqual(imageOf('JPEG', 40, 30, true));
  });

  it('stops at the frame header: needs exactly its first 9 bytes', () => {
    const file = jpeg(640, 480);
    const decisive = frameHeaderOffset(file) + 9;
    expect(sniff(file.subarray(0, decisive - 1), false)).toEqual(NEED_MORE);
    expect(sniff(file.subarray(0, decisive), false)).toEqual(imageOf('JPEG', 640, 480));
  });

  it.each([0xc1, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf].map((m) => [m.toString(16).toUpperCase(), m]))(
    'accepts SOF marker 0x%s as a frame header',
    (_hex, marker) => {
      // SOF6, SOF10 and SOF14 are progressive too.
      expect(sniff(setJpegFrameMarker(jpeg(33, 22), marker))).toEqual(imageOf('JPEG', 33, 22, [0xc6, 0xca, 0xce].includes(marker as number)));
    },
  );

  it.each([
    ['DHT', JPEG_MARKER.DHT],
    ['JPG', JPEG_MARKER.JPG],
    ['DAC', JPEG_MARKER.DAC],
  ])('does not take %s for a frame header', (_name, marker) => {
    // With its SOF relabelled, the file's next marker is its scan.
    expect(sniff(setJpegFrameMarker(jpeg(33, 22), marker))).toEqual(
      unsupported('JPEG scan data (SOS) starts before the frame header'),
    );
  });

  it('finds a frame header behind three 60 KB APP1, APP2 and COM segments within the look-ahead', () => {
    const file = withJpegSegments(jpeg(1600, 1200), exifSegment(60_000), iccSegment(60_000), commentSegment(60_000));
    expect(frameHeaderOffset(file)).toBeGreaterThan(180_000);
    expect(sniff(file.subarray(0, SNIFF_LOOKAHEAD_BYTES))).toEqual(imageOf('JPEG', 1600, 1200));
    expect(sniff(file.subarray(0, 120_000), false)).toEqual(NEED_MORE);
  });

  it('skips an EXIF thumbnail: the first frame header inside APP1 is not the image', () => {
    const thumbnail = jpeg(160, 120);
    const exif = jpegSegment(JPEG_MARKER.APP1, concatBytes(asciiBytes('Exif\0\0'), thumbnail));
    expect(sniff(withJpegSegments(jpeg(4000, 3000), exif))).toEqual(imageOf('JPEG', 4000, 3000));
  });

  it('reports the largest dimensions a frame header can hold', () => {
    expect(sniff(setJpegDimensions(jpeg(8, 8), 65535, 65535))).toEqual(imageOf('JPEG', 65535, 65535));
  });

  it('rejects zero width and a height left to a DNL marker', () => {
    expect(sniff(setJpegDimensions(jpeg(8, 8), 0, 8))).toEqual(unsupported('JPEG width is zero'));
    expect(sniff(setJpegDimensions(jpeg(8, 8), 8, 0))).toEqual(
      unsupported('JPEG height is zero (defined later by a DNL marker)'),
    );
  });

  it('gives up with the look-ahead reason when no frame header lies within 256 KiB', () => {
    const segments = Array.from({ length: 5 }, () => exifSegment(JPEG_MAX_SEGMENT_PAYLOAD));
    const file = withJpegSegments(jpeg(100, 100), ...segments);
    const head = file.subarray(0, SNIFF_LOOKAHEAD_BYTES);
    expect(sniff(head, false)).toEqual(NEED_MORE);
    expect(sniff(head, true)).toEqual(unsupported('no JPEG frame header within the first 262144 bytes'));
    expect(feedInChunks(file, 64 * 1024)).toEqual(unsupported('no JPEG frame header within the first 262144 bytes'));
  });

  it('calls a short file that ends before its frame header truncated', () => {
    const file = jpeg(100, 100);
    expect(sniff(file.subarray(0, frameHeaderOffset(file)))).toEqual(unsupported('truncated JPEG'));
  });

  it('rejects a scan or the end of the image before any frame header', () => {
    const dqt = jpegSegment(JPEG_MARKER.DQT, concatBytes(Uint8Array.of(0), new Uint8Array(64).fill(1)));
    const sos = jpegSegment(JPEG_MARKER.SOS, Uint8Array.of(1, 1, 0, 0, 63, 0));
    expect(sniff(concatBytes(SOI, dqt, sos, Uint8Array.of(0x3f, 0xff, 0xd9)))).toEqual(
      unsupported('JPEG scan data (SOS) starts before the frame header'),
    );
    expect(sniff(concatBytes(SOI, dqt, Uint8Array.of(0xff, 0xd9)))).toEqual(
      unsupported('JPEG image ends (EOI) before the frame header'),
    );
  });

  it.each([0, 1])('rejects a segment length of %i', (length) => {
    const file = concatBytes(SOI, Uint8Array.of(0xff, 0xe1, 0, length), jpeg(8, 8).subarray(2));
    expect(sniff(file)).toEqual(unsupported(`JPEG segment 0xE1 at byte 2 has length ${length}, less than 2`));
    // The length alone decides, before any later byte arrives.
    expect(sniff(file.subarray(0, 6), false)).toEqual(sniff(file));
  });

  it('rejects a frame header too short to hold a component', () => {
    const file = concatBytes(SOI, jpegSegment(JPEG_MARKER.SOF0, Uint8Array.of(8, 0, 8, 0, 8)));
    expect(sniff(file)).toEqual(unsupported('JPEG frame header length 7 is too short'));
  });

  it('skips fill bytes and standalone markers before the frame header', () => {
    const file = jpeg(21, 34);
    const at = frameHeaderOffset(file);
    // TEM and RST0-RST7 carry no length; the extra 0xFF bytes are fill before the SOF marker.
    const standalone = [0x01, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7].flatMap((marker) => [0xff, marker]);
    const noisy = concatBytes(file.subarray(0, at), Uint8Array.from(standalone), Uint8Array.of(0xff, 0xff), file.subarray(at));
    expect(sniff(noisy)).toEqual(imageOf('JPEG', 21, 34));
  });

  it('rejects bytes where a marker must be', () => {
    const file = jpeg(21, 34);
    const at = frameHeaderOffset(file);
    expect(sniff(withByte(file, at, 0x41))).toEqual(unsupported(`expected a JPEG marker at byte ${at}, found 0x41`));
    expect(sniff(withByte(file, at + 1, 0x00))).toEqual(unsupported(`expected a JPEG marker at byte ${at}, found 0xFF00`));
    expect(sniff(concatBytes(SOI, Uint8Array.of(0x00)))).toEqual(unsupported('expected a JPEG marker at byte 2, found 0x00'));
    expect(sniff(concatBytes(SOI, SOI))).toEqual(unsupported('unexpected second JPEG start-of-image marker at byte 2'));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// GIF

describe('sniffImage: GIF', () => {
  it('reads the logical screen size', () => {
    expect(sniff(gif(1, 1))).toEqual(imageOf('GIF', 1, 1));
    expect(sniff(gif(300, 200))).toEqual(imageOf('GIF', 300, 200));
  });

  it('accepts GIF87a and little-endian dimensions up to 65535', () => {
    const file = gif(1, 1);
    const gif87 = withByte(file, 4, 0x37);
    expect(sniff(gif87)).toEqual(imageOf('GIF', 1, 1));
    const huge = concatBytes(file.subarray(0, 6), Uint8Array.of(0xff, 0xff, 0x34, 0x12), file.subarray(10));
    expect(sniff(huge)).toEqual(imageOf('GIF', 65535, 0x1234));
  });

  it('needs exactly the first 10 bytes', () => {
    const file = gif(300, 200);
    expect(sniff(file.subarray(0, 9), false)).toEqual(NEED_MORE);
    expect(sniff(file.subarray(0, 10), false)).toEqual(imageOf('GIF', 300, 200));
  });

  it('rejects zero dimensions', () => {
    expect(sniff(gif(0, 5))).toEqual(unsupported('GIF width is zero'));
    expect(sniff(gif(5, 0))).toEqual(unsupported('GIF height is zero'));
  });

  it('rejects an unknown GIF version', () => {
    expect(sniff(withByte(gif(1, 1), 4, 0x38))).toEqual(unsupported(NOT_AN_IMAGE));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// BMP

describe('sniffImage: BMP', () => {
  it('reads a BITMAPINFOHEADER at 24 and 1 bits per pixel', () => {
    expect(sniff(bmp(13, 7))).toEqual(imageOf('BMP', 13, 7));
    expect(sniff(bmp(4000, 3000, { bitsPerPixel: 1 }))).toEqual(imageOf('BMP', 4000, 3000));
  });

  it('reports a top-down bitmap (negative height) with its positive height', () => {
    expect(sniff(bmp(13, 7, { topDown: true }))).toEqual(imageOf('BMP', 13, 7));
    expect(sniff(setBmpDimensions(bmp(1, 1), 5, -INT32_MAX))).toEqual(imageOf('BMP', 5, INT32_MAX));
  });

  it('reads a 12-byte BITMAPCOREHEADER', () => {
    expect(sniff(bmp(13, 7, { coreHeader: true }))).toEqual(imageOf('BMP', 13, 7));
    const core = Buffer.from(bmp(1, 1, { coreHeader: true }));
    core.writeUInt16LE(65535, 18);
    core.writeUInt16LE(65535, 20);
    expect(sniff(core)).toEqual(imageOf('BMP', 65535, 65535));
    core.writeUInt16LE(0, 18);
    expect(sniff(core)).toEqual(unsupported('BMP width is zero'));
    core.writeUInt16LE(1, 18);
    core.writeUInt16LE(0, 20);
    expect(sniff(core)).toEqual(unsupported('BMP height is zero'));
  });

  it('accepts every info header size from 40 to 124, V4 and V5 included', () => {
    for (const size of [40, 52, 56, 64, 108, 124]) {
      const file = Buffer.from(bmp(9, 4));
      file.writeUInt32LE(size, 14);
      expect(sniff(file)).toEqual(imageOf('BMP', 9, 4));
    }
  });

  it('needs exactly the first 28 bytes (through the colour planes), or 24 with a core header', () => {
    const info = bmp(13, 7);
    expect(sniff(info.subarray(0, 27), false)).toEqual(NEED_MORE);
    expect(sniff(info.subarray(0, 28), false)).toEqual(imageOf('BMP', 13, 7));
    const core = bmp(13, 7, { coreHeader: true });
    expect(sniff(core.subarray(0, 23), false)).toEqual(NEED_MORE);
    expect(sniff(core.subarray(0, 24), false)).toEqual(imageOf('BMP', 13, 7));
  });

  it('rejects a header whose colour planes is not 1: "BM" at the start of a text is no bitmap', () => {
    const file = Buffer.from(bmp(9, 4));
    file.writeUInt16LE(0, 26);
    expect(sniff(file)).toEqual(unsupported('BMP colour planes is 0, not 1'));
    const text = textFile('BM this text starts like a bitmap but it is not one at all');
    expect(sniff(text).status).toBe('unsupported');
    const core = Buffer.from(bmp(9, 4, { coreHeader: true }));
    core.writeUInt16LE(8, 22);
    expect(sniff(core)).toEqual(unsupported('BMP colour planes is 8, not 1'));
  });

  it('rejects zero and negative widths, zero height and a height of -2^31', () => {
    const file = bmp(1, 1);
    expect(sniff(setBmpDimensions(file, -13, 7))).toEqual(unsupported('BMP width is negative'));
    expect(sniff(setBmpDimensions(file, -(2 ** 31), 7))).toEqual(unsupported('BMP width is negative'));
    expect(sniff(setBmpDimensions(file, 0, 7))).toEqual(unsupported('BMP width is zero'));
    expect(sniff(setBmpDimensions(file, 13, 0))).toEqual(unsupported('BMP height is zero'));
    expect(sniff(setBmpDimensions(file, 13, -(2 ** 31)))).toEqual(unsupported('BMP height -2147483648 is out of range'));
  });

  it.each([0, 1, 13, 16, 39, 125, 2 ** 32 - 1])('rejects DIB header size %i (neither 12 nor 40 to 124)', (size) => {
    const file = Buffer.from(bmp(9, 4));
    file.writeUInt32LE(size, 14);
    expect(sniff(file)).toEqual(unsupported(`BMP header size ${size} is not supported (expected 12, or 40 to 124)`));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Anything else

describe('sniffImage: other files', () => {
  it('rejects text, a PDF, a WebP and random bytes as not an image', () => {
    expect(sniff(textFile('Hello, this is not a photo.\n'))).toEqual(unsupported(NOT_AN_IMAGE));
    expect(sniff(textFile('Bonjour'))).toEqual(unsupported(NOT_AN_IMAGE));
    expect(sniff(pdf())).toEqual(unsupported(NOT_AN_IMAGE));
    expect(sniff(webp(64, 64))).toEqual(unsupported(NOT_AN_IMAGE));
    // Seed 7 starts with a byte no supported signature begins with.
    const noise = randomBytes(7, 4096);
    expect([0x89, 0xff, 0x47, 0x42]).not.toContain(noise[0]);
    expect(sniff(noise)).toEqual(unsupported(NOT_AN_IMAGE));
  });

  it('decides on the first byte that rules every format out, even while more could come', () => {
    expect(sniff(textFile('%'), false)).toEqual(unsupported(NOT_AN_IMAGE));
    expect(sniff(Uint8Array.of(0x89, 0x50, 0x4e, 0x46), false)).toEqual(unsupported(NOT_AN_IMAGE));
  });

  it('waits on an empty or partial signature, and calls it truncated once the file has ended', () => {
    expect(sniff(new Uint8Array(0), false)).toEqual(NEED_MORE);
    expect(sniff(new Uint8Array(0), true)).toEqual(unsupported('the file is empty'));
    expect(sniff(Uint8Array.of(0x89, 0x50), false)).toEqual(NEED_MORE);
    expect(sniff(Uint8Array.of(0x89, 0x50), true)).toEqual(unsupported('truncated PNG header'));
    expect(sniff(asciiBytes('GIF8'), true)).toEqual(unsupported('truncated GIF header'));
    expect(sniff(asciiBytes('B'), true)).toEqual(unsupported('truncated BMP header'));
    expect(sniff(Uint8Array.of(0xff), true)).toEqual(unsupported('truncated JPEG header'));
  });

  it('reads a view into a larger buffer and a Node Buffer without looking outside them', () => {
    const file = png(33, 44);
    const backing = new Uint8Array(file.length + 10).fill(0xff);
    backing.set(file, 5);
    expect(sniff(backing.subarray(5, 5 + 20), false)).toEqual(NEED_MORE);
    expect(sniff(backing.subarray(5, 5 + file.length))).toEqual(imageOf('PNG', 33, 44));
    expect(sniff(Buffer.from(gif(3, 4)))).toEqual(imageOf('GIF', 3, 4));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Truncation, chunked feeding and hostile input, across every format

const DECISIVE_FIXTURES: readonly { name: string; file: Uint8Array; decisive: number; truncated: string; answer: SniffResult }[] = [
  { name: 'PNG', file: png(640, 480), decisive: 29, truncated: 'truncated PNG header', answer: imageOf('PNG', 640, 480) },
  { name: 'GIF', file: gif(640, 480), decisive: 10, truncated: 'truncated GIF header', answer: imageOf('GIF', 640, 480) },
  { name: 'BMP', file: bmp(64, 48), decisive: 28, truncated: 'truncated BMP header', answer: imageOf('BMP', 64, 48) },
  {
    name: 'BMP core header',
    file: bmp(64, 48, { coreHeader: true }),
    decisive: 24,
    truncated: 'truncated BMP header',
    answer: imageOf('BMP', 64, 48),
  },
  {
    name: 'baseline JPEG',
    file: jpeg(640, 480),
    decisive: frameHeaderOffset(jpeg(640, 480)) + 9,
    truncated: 'truncated JPEG',
    answer: imageOf('JPEG', 640, 480),
  },
];

describe('sniffImage: truncated at every byte of the header', () => {
  it.each(DECISIVE_FIXTURES)('$name: waits while incomplete, rejects when complete, decides at the last header byte', (fixture) => {
    const { file, decisive, truncated, answer } = fixture;
    for (let length = 1; length < decisive; length++) {
      const head = file.subarray(0, length);
      expect(sniff(head, false), `${length} bytes, incomplete`).toEqual(NEED_MORE);
      const partialSignature = fixture.name.includes('JPEG') && length < 2;
      const reason = partialSignature ? 'truncated JPEG header' : truncated;
      expect(sniff(head, true), `${length} bytes, complete`).toEqual(unsupported(reason));
    }
    expect(sniff(file.subarray(0, decisive), true)).toEqual(answer);
  });

  it('JPEG behind large segments: every prefix before the frame header waits, or is truncated once complete', () => {
    const file = withJpegSegments(jpeg(800, 600), exifSegment(40_000), iccSegment(30_000), commentSegment(20_000));
    const decisive = frameHeaderOffset(file) + 9;
    for (let length = 2; length < decisive; length++) {
      const head = file.subarray(0, length);
      if (sniff(head, false).status !== 'need-more') throw new Error(`${length} bytes, incomplete: not need-more`);
      const complete = sniff(head, true);
      if (complete.status !== 'unsupported' || complete.reason !== 'truncated JPEG') {
        throw new Error(`${length} bytes, complete: ${JSON.stringify(complete)}`);
      }
    }
    expect(sniff(file.subarray(0, decisive), false)).toEqual(imageOf('JPEG', 800, 600));
  });
});

// Fed a byte or a few at a time, and walked prefix by prefix: image-sniffer.stress.test.ts (npm run test:stress).
describe('sniffImage: chunked feeding', () => {
  it.each([4096, 65536])('gives the whole-file answer when fed %i bytes at a time', (chunkBytes) => {
    for (const [name, file] of chunkingCases()) {
      expect(feedInChunks(file, chunkBytes), name).toEqual(sniff(file));
    }
  });
});

describe('sniffImage: hostile input', () => {
  it('never throws and always answers in shape on random bytes of every length', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const bytes = randomBytes(seed, seed % 97);
      expectWellFormed(sniff(bytes, true), true);
      expectWellFormed(sniff(bytes, false), false);
    }
  });

  it('never throws and always answers in shape when header bytes of real files are corrupted', () => {
    const files = [png(40, 30), jpeg(40, 30), jpeg(40, 30, { progressive: true }), gif(40, 30), bmp(40, 30), bmp(40, 30, { coreHeader: true })];
    let seed = 1;
    for (const file of files) {
      for (let round = 0; round < 300; round++, seed++) {
        const noise = randomBytes(seed, 3);
        const offset = (noise[0] ?? 0) % Math.min(file.length, 64);
        const mutated = withByte(file, offset, noise[1] ?? 0);
        const cut = mutated.subarray(0, Math.max(1, mutated.length - ((noise[2] ?? 0) % 8)));
        expectWellFormed(sniff(cut, true), true);
        expectWellFormed(sniff(cut, false), false);
      }
    }
  });

  it('walks a look-ahead full of fill bytes without finding a frame', () => {
    const head = concatBytes(SOI, new Uint8Array(SNIFF_LOOKAHEAD_BYTES - 2).fill(0xff));
    expect(sniff(head, false)).toEqual(NEED_MORE);
    expect(sniff(head, true)).toEqual(unsupported('no JPEG frame header within the first 262144 bytes'));
  });
});

describe('jpegScansSeparately', () => {
  it('is true when the first scan carries fewer colours than the frame, as a non-interleaved baseline file does', () => {
    const separate = jpeg(40, 30, { separateScans: true });
    expect(jpegScansSeparately(separate)).toBe(true);
    expect(jpegScansSeparately(withJpegSegments(separate, exifSegment(40_000), commentSegment(2_000)))).toBe(true);
  });

  it('is false for a single-scan file, a one-colour progressive one, and a file cut before its first scan', () => {
    expect(jpegScansSeparately(jpeg(40, 30))).toBe(false);
    expect(jpegScansSeparately(knownGood('jpeg8x8'))).toBe(false);
    expect(jpegScansSeparately(jpeg(40, 30, { progressive: true }))).toBe(false);
    const separate = jpeg(40, 30, { separateScans: true });
    expect(jpegScansSeparately(separate.subarray(0, frameHeaderOffset(separate) + 9))).toBe(false);
    expect(jpegScansSeparately(png(4, 4))).toBe(false);
  });
});
