/**
 * The CRM's own judgement of an uploaded photo: its format and pixel count, read by the image-size library.
 * The gateway checks uploads with a sniffer of its own; this module shares nothing with it, so a test that
 * runs the gateway against the emulator compares two independent readings of the same bytes.
 */
import { imageSize } from 'image-size';

// The CRM's documented limits for a record photo.
export const CRM_MAX_PHOTO_BYTES = 10 * 1024 * 1024; // 10 MB = 10,485,760 bytes
export const CRM_MAX_PHOTO_PIXELS = 10_000_000;

export type CrmImageType = 'png' | 'jpg' | 'gif' | 'bmp';

// The CRM shows PNG, JPEG, GIF and BMP; other formats image-size knows (WebP, SVG, TIFF, ICO …) get the non-image answer.
const SHOWN_TYPES: ReadonlySet<string> = new Set<CrmImageType>(['png', 'jpg', 'gif', 'bmp']);

export type PhotoVerdict =
  | { kind: 'image'; type: CrmImageType; width: number; height: number }
  | { kind: 'not-an-image' }
  | { kind: 'too-many-pixels'; type: CrmImageType; width: number; height: number };

/** Decides whether the CRM takes `bytes` (the whole file, already within CRM_MAX_PHOTO_BYTES) as a photo. */
export function judgePhoto(bytes: Uint8Array): PhotoVerdict {
  const measured = measure(bytes);
  if (measured === undefined) return { kind: 'not-an-image' };
  const { type, width, height } = measured;
  if (width * height > CRM_MAX_PHOTO_PIXELS) return { kind: 'too-many-pixels', type, width, height };
  return { kind: 'image', type, width, height };
}

function measure(bytes: Uint8Array): { type: CrmImageType; width: number; height: number } | undefined {
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(ownBuffer(bytes));
  } catch {
    return undefined; // unknown, corrupt or truncated
  }
  const type = size.type;
  if (type === undefined || !SHOWN_TYPES.has(type)) return undefined;
  const { width, height } = type === 'bmp' ? bmpDimensions(bytes, size) : size;
  // An image with no pixels cannot be shown (a JPEG of height 0 defers it to a DNL marker after the scan).
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) return undefined;
  return { type: type as CrmImageType, width, height };
}

/**
 * image-size reads through a DataView that runs to the end of the underlying ArrayBuffer, so a truncated header
 * in a pooled Buffer would be completed with a neighbour's bytes. Give it an ArrayBuffer of exactly the file.
 */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  return new Uint8Array(bytes);
}

const BMP_CORE_HEADER_SIZE = 12;

/**
 * image-size reads every BMP's width and height as 32-bit fields at bytes 18 and 22. An OS/2 1.x BMP
 * (12-byte BITMAPCOREHEADER, which browsers show) stores them as 16-bit fields at 18 and 20 instead.
 */
function bmpDimensions(bytes: Uint8Array, size: { width: number; height: number }): { width: number; height: number } {
  if (bytes.length < 22) return size;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(14, true) !== BMP_CORE_HEADER_SIZE) return size;
  return { width: view.getUint16(18, true), height: view.getUint16(20, true) };
}
