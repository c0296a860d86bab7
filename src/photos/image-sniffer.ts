import { SNIFF_LOOKAHEAD_BYTES } from './limits.ts';

/** The formats the CRM takes for a record photo, and the only ones the gateway forwards. */
export const IMAGE_FORMATS = ['PNG', 'JPEG', 'GIF', 'BMP'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
/** "PNG, JPEG, GIF or BMP", for messages. */
export const IMAGE_FORMAT_LIST = `${IMAGE_FORMATS.slice(0, -1).join(', ')} or ${IMAGE_FORMATS.at(-1)}`;
export type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/bmp';

export interface ImageInfo {
  format: ImageFormat;
  mimeType: ImageMimeType;
  width: number;
  height: number;
  /**
   * The pixels come in passes over the whole image (an interlaced PNG, a progressive JPEG), so a decoder must hold
   * the whole image rather than a band of rows. Absent for a PNG or JPEG written top to bottom, and for GIF and BMP
   * (whose decoders hold the whole image anyway).
   */
  progressive?: true;
}

export type SniffResult =
  | { status: 'image'; image: ImageInfo }
  | { status: 'need-more' }
  | { status: 'unsupported'; reason: string };

export interface SniffOptions {
  /** true when `head` holds every byte there will be (the stream ended or the look-ahead is exhausted). */
  complete: boolean;
}

const MIME_TYPES: Readonly<Record<ImageFormat, ImageMimeType>> = {
  PNG: 'image/png',
  JPEG: 'image/jpeg',
  GIF: 'image/gif',
  BMP: 'image/bmp',
};

const MAX_INT32 = 0x7fff_ffff;
const NOT_AN_IMAGE = `not a ${IMAGE_FORMAT_LIST} file`;

/**
 * Decides an upload's format and pixel dimensions from its leading bytes alone.
 * Called again with a longer prefix while it answers `need-more`; never throws and never copies `head`.
 */
export function sniffImage(head: Uint8Array, { complete }: SniffOptions): SniffResult {
  if (head.length === 0) return complete ? unsupported('the file is empty') : NEED_MORE;
  for (const candidate of CANDIDATES) {
    const match = matchSignature(head, candidate.signatures);
    if (match === 'full') return candidate.parse(head, complete);
    // Leading bytes tell the formats apart, so a partial match can only be this one format.
    if (match === 'partial') return complete ? unsupported(`truncated ${candidate.format} header`) : NEED_MORE;
  }
  return unsupported(NOT_AN_IMAGE);
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers

type Parse = (head: Uint8Array, complete: boolean) => SniffResult;

interface Candidate {
  format: ImageFormat;
  /** Alternative leading byte strings; one must match exactly. */
  signatures: readonly (readonly number[])[];
  /** Called once a signature matched in full. */
  parse: Parse;
}

const NEED_MORE: SniffResult = Object.freeze({ status: 'need-more' });

function unsupported(reason: string): SniffResult {
  return { status: 'unsupported', reason };
}

function image(format: ImageFormat, width: number, height: number, progressive = false): SniffResult {
  return { status: 'image', image: { format, mimeType: MIME_TYPES[format], width, height, ...(progressive ? { progressive: true } : {}) } };
}

/** What to answer when the bytes a decision needs have not arrived: wait, or give up if none will come. */
function waitOr(complete: boolean, reason: string): SniffResult {
  return complete ? unsupported(reason) : NEED_MORE;
}

function ascii(text: string): number[] {
  return Array.from(text, (char) => char.charCodeAt(0));
}

/** 'full' when `head` starts with a signature, 'partial' when it is a proper prefix of one, else 'none'. */
function matchSignature(head: Uint8Array, signatures: Candidate['signatures']): 'full' | 'partial' | 'none' {
  let partial = false;
  for (const signature of signatures) {
    const shared = Math.min(head.length, signature.length);
    let equal = true;
    for (let i = 0; i < shared && equal; i++) equal = head[i] === signature[i];
    if (!equal) continue;
    if (shared === signature.length) return 'full';
    partial = true;
  }
  return partial ? 'partial' : 'none';
}

/** true when the bytes of `expected` that `head` holds at `offset` all agree with it. */
function agreesSoFar(head: Uint8Array, offset: number, expected: readonly number[]): boolean {
  const end = Math.min(head.length, offset + expected.length);
  for (let i = offset; i < end; i++) if (head[i] !== expected[i - offset]) return false;
  return true;
}

// Readers assume the caller has checked `head.length`; `?? 0` only satisfies the index type.
function u16be(head: Uint8Array, offset: number): number {
  return ((head[offset] ?? 0) << 8) | (head[offset + 1] ?? 0);
}

function u16le(head: Uint8Array, offset: number): number {
  return (head[offset] ?? 0) | ((head[offset + 1] ?? 0) << 8);
}

function u32be(head: Uint8Array, offset: number): number {
  return (u16be(head, offset) * 0x1_0000 + u16be(head, offset + 2)) >>> 0;
}

function i32le(head: Uint8Array, offset: number): number {
  return (u16le(head, offset) | (u16le(head, offset + 2) << 16)) | 0;
}

function u32le(head: Uint8Array, offset: number): number {
  return i32le(head, offset) >>> 0;
}

function hex(byte: number): string {
  return `0x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// PNG: signature, then IHDR (length 13) as the first chunk; width and height are big-endian uint32, then bit depth,
// colour type, compression and filter (a byte each), then the interlace method (0 none, 1 Adam7).

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_IHDR_START = [0x00, 0x00, 0x00, 0x0d, ...ascii('IHDR')];
const PNG_IHDR_OFFSET = PNG_SIGNATURE.length;
const PNG_WIDTH_OFFSET = PNG_IHDR_OFFSET + PNG_IHDR_START.length;
const PNG_HEIGHT_OFFSET = PNG_WIDTH_OFFSET + 4;
const PNG_INTERLACE_OFFSET = PNG_HEIGHT_OFFSET + 8;

function parsePng(head: Uint8Array, complete: boolean): SniffResult {
  if (!agreesSoFar(head, PNG_IHDR_OFFSET, PNG_IHDR_START)) return unsupported('the first PNG chunk is not a 13-byte IHDR');
  const width = pngDimension(head, PNG_WIDTH_OFFSET, 'width');
  if (typeof width !== 'number') return width ?? waitOr(complete, 'truncated PNG header');
  const height = pngDimension(head, PNG_HEIGHT_OFFSET, 'height');
  if (typeof height !== 'number') return height ?? waitOr(complete, 'truncated PNG header');
  // The interlace method decides how much memory a decoder needs, so the sniff waits for it.
  if (head.length <= PNG_INTERLACE_OFFSET) return waitOr(complete, 'truncated PNG header');
  return image('PNG', width, height, head[PNG_INTERLACE_OFFSET] !== 0);
}

/** The dimension, a rejection, or undefined while its bytes are missing. */
function pngDimension(head: Uint8Array, offset: number, name: string): number | SniffResult | undefined {
  // The top bit alone proves the value exceeds a signed 32-bit Int, so reject as soon as it arrives.
  if (head.length > offset && (head[offset] ?? 0) >= 0x80) return unsupported(`PNG ${name} exceeds ${MAX_INT32}`);
  if (head.length < offset + 4) return undefined;
  const value = u32be(head, offset);
  return value === 0 ? unsupported(`PNG ${name} is zero`) : value;
}

// ---------------------------------------------------------------------------------------------------------------
// GIF: "GIF87a" or "GIF89a", then the logical screen's width and height as little-endian uint16.

const GIF_WIDTH_OFFSET = 6;
const GIF_HEIGHT_OFFSET = 8;

function parseGif(head: Uint8Array, complete: boolean): SniffResult {
  if (head.length < GIF_HEIGHT_OFFSET + 2) return waitOr(complete, 'truncated GIF header');
  const width = u16le(head, GIF_WIDTH_OFFSET);
  const height = u16le(head, GIF_HEIGHT_OFFSET);
  if (width === 0) return unsupported('GIF width is zero');
  if (height === 0) return unsupported('GIF height is zero');
  return image('GIF', width, height);
}

// ---------------------------------------------------------------------------------------------------------------
// BMP: "BM", a 14-byte file header, then a DIB header whose size (uint32 LE at 14) says how to read the dimensions.

const BMP_DIB_SIZE_OFFSET = 14;
const BMP_WIDTH_OFFSET = 18;
const BMP_CORE_HEADER_SIZE = 12;
const BMP_INFO_HEADER_MIN_SIZE = 40;
const BMP_V5_HEADER_SIZE = 124; // the largest DIB header any writer produces

/** Every BMP has exactly one colour plane: a cheap check that "BM" at the start is not a coincidence. */
function bmpPlanes(head: Uint8Array, offset: number, complete: boolean): SniffResult | null {
  if (head.length < offset + 2) return waitOr(complete, 'truncated BMP header');
  const planes = u16le(head, offset);
  return planes === 1 ? null : unsupported(`BMP colour planes is ${planes}, not 1`);
}

function parseBmp(head: Uint8Array, complete: boolean): SniffResult {
  if (head.length < BMP_DIB_SIZE_OFFSET + 4) return waitOr(complete, 'truncated BMP header');
  const dibSize = u32le(head, BMP_DIB_SIZE_OFFSET);
  if (dibSize === BMP_CORE_HEADER_SIZE) return parseBmpCoreHeader(head, complete);
  if (dibSize >= BMP_INFO_HEADER_MIN_SIZE && dibSize <= BMP_V5_HEADER_SIZE) return parseBmpInfoHeader(head, complete);
  return unsupported(`BMP header size ${dibSize} is not supported (expected 12, or 40 to 124)`);
}

/** BITMAPCOREHEADER (OS/2 1.x): unsigned 16-bit width and height, always bottom-up. */
function parseBmpCoreHeader(head: Uint8Array, complete: boolean): SniffResult {
  if (head.length < BMP_WIDTH_OFFSET + 4) return waitOr(complete, 'truncated BMP header');
  const width = u16le(head, BMP_WIDTH_OFFSET);
  const height = u16le(head, BMP_WIDTH_OFFSET + 2);
  if (width === 0) return unsupported('BMP width is zero');
  if (height === 0) return unsupported('BMP height is zero');
  return bmpPlanes(head, BMP_WIDTH_OFFSET + 4, complete) ?? image('BMP', width, height);
}

/** BITMAPINFOHEADER and its successors: signed 32-bit width and height; a negative height means top-down rows. */
function parseBmpInfoHeader(head: Uint8Array, complete: boolean): SniffResult {
  if (head.length < BMP_WIDTH_OFFSET + 8) return waitOr(complete, 'truncated BMP header');
  const width = i32le(head, BMP_WIDTH_OFFSET);
  const height = i32le(head, BMP_WIDTH_OFFSET + 4);
  if (width < 0) return unsupported('BMP width is negative');
  if (width === 0) return unsupported('BMP width is zero');
  if (height === 0) return unsupported('BMP height is zero');
  // -2^31 has no positive counterpart in a signed 32-bit Int.
  if (height === -MAX_INT32 - 1) return unsupported(`BMP height ${height} is out of range`);
  return bmpPlanes(head, BMP_WIDTH_OFFSET + 8, complete) ?? image('BMP', width, Math.abs(height));
}

// ---------------------------------------------------------------------------------------------------------------
// JPEG: SOI, then marker segments up to the frame header (SOFn), which holds height and width as big-endian uint16.

const JPEG_SOI = 0xd8;
const JPEG_EOI = 0xd9;
const JPEG_SOS = 0xda;
const JPEG_TEM = 0x01;
/** Length (2), precision (1), height (2), width (2), component count (1), one component (3). */
const JPEG_MIN_FRAME_HEADER_LENGTH = 11;

/** SOF0-3, SOF5-7, SOF9-11, SOF13-15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frame headers. */
function isFrameHeader(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** SOF2, SOF6, SOF10, SOF14: the scans refine the whole image in passes. */
function isProgressive(marker: number): boolean {
  return marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce;
}

/** RSTn and TEM stand alone: no length field follows them. */
function isStandalone(marker: number): boolean {
  return marker === JPEG_TEM || (marker >= 0xd0 && marker <= 0xd7);
}

function parseJpeg(head: Uint8Array, complete: boolean): SniffResult {
  let offset = 2;
  for (;;) {
    if (offset >= head.length) return jpegEndsEarly(head, complete);
    if (head[offset] !== 0xff) return unsupported(`expected a JPEG marker at byte ${offset}, found ${hex(head[offset] ?? 0)}`);
    // Any number of 0xFF fill bytes may precede a marker code.
    while (offset < head.length && head[offset] === 0xff) offset++;
    if (offset >= head.length) return jpegEndsEarly(head, complete);
    const marker = head[offset] ?? 0;
    const markerAt = offset - 1;
    offset++;
    if (isStandalone(marker)) continue;
    const problem = markerProblem(marker, markerAt);
    if (problem !== undefined) return unsupported(problem);
    if (offset + 2 > head.length) return jpegEndsEarly(head, complete);
    const length = u16be(head, offset);
    if (length < 2) return unsupported(`JPEG segment ${hex(marker)} at byte ${markerAt} has length ${length}, less than 2`);
    if (isFrameHeader(marker)) return parseJpegFrameHeader(head, complete, offset, length, isProgressive(marker));
    offset += length;
  }
}

/** Why a marker seen before the frame header ends the search, if it does. */
function markerProblem(marker: number, markerAt: number): string | undefined {
  if (marker === 0x00) return `expected a JPEG marker at byte ${markerAt}, found 0xFF00`;
  if (marker === JPEG_SOS) return 'JPEG scan data (SOS) starts before the frame header';
  if (marker === JPEG_EOI) return 'JPEG image ends (EOI) before the frame header';
  if (marker === JPEG_SOI) return `unexpected second JPEG start-of-image marker at byte ${markerAt}`;
  return undefined;
}

/** `offset` is where the segment's length field starts: precision at +2, height at +3, width at +5. */
function parseJpegFrameHeader(head: Uint8Array, complete: boolean, offset: number, length: number, progressive: boolean): SniffResult {
  if (length < JPEG_MIN_FRAME_HEADER_LENGTH) return unsupported(`JPEG frame header length ${length} is too short`);
  if (offset + 7 > head.length) return jpegEndsEarly(head, complete);
  const height = u16be(head, offset + 3);
  const width = u16be(head, offset + 5);
  // Height 0 defers the real height to a DNL marker after the first scan, which is too far to read.
  if (height === 0) return unsupported('JPEG height is zero (defined later by a DNL marker)');
  if (width === 0) return unsupported('JPEG width is zero');
  return image('JPEG', width, height, progressive);
}

/**
 * true when a JPEG's first scan carries fewer colour components than its frame, i.e. each comes in a scan of its own:
 * libjpeg then holds the whole image's coefficients before it can give a row, as for a progressive file. false when
 * not, and when `bytes` ends before the first scan (the caller asks again with more). Never throws.
 */
export function jpegScansSeparately(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0xff || bytes[1] !== JPEG_SOI) return false;
  let offset = 2;
  let frameComponents = 0;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) return false;
    while (offset < bytes.length && bytes[offset] === 0xff) offset++;
    const marker = bytes[offset] ?? 0;
    offset++;
    if (isStandalone(marker)) continue;
    if (marker === 0x00 || marker === JPEG_SOI || marker === JPEG_EOI || offset + 3 > bytes.length) return false;
    const length = u16be(bytes, offset);
    if (length < 2) return false;
    // Frame header: length, precision, height, width, then the component count; scan header: length, then its count.
    if (isFrameHeader(marker) && offset + 7 < bytes.length) frameComponents = bytes[offset + 7] ?? 0;
    if (marker === JPEG_SOS) return (bytes[offset + 2] ?? 0) < frameComponents;
    offset += length;
  }
  return false;
}

function jpegEndsEarly(head: Uint8Array, complete: boolean): SniffResult {
  if (!complete) return NEED_MORE;
  if (head.length >= SNIFF_LOOKAHEAD_BYTES) {
    return unsupported(`no JPEG frame header within the first ${SNIFF_LOOKAHEAD_BYTES} bytes`);
  }
  return unsupported('truncated JPEG');
}

// Declared after the format sections because it reads their signature constants when the module loads.
const CANDIDATES: readonly Candidate[] = [
  { format: 'PNG', signatures: [PNG_SIGNATURE], parse: parsePng },
  { format: 'JPEG', signatures: [[0xff, JPEG_SOI]], parse: parseJpeg },
  { format: 'GIF', signatures: [ascii('GIF87a'), ascii('GIF89a')], parse: parseGif },
  { format: 'BMP', signatures: [ascii('BM')], parse: parseBmp },
];
