import type { Sharp, SharpOptions } from 'sharp';
import { exifHasGps } from './exif.ts';
import { jpegScansSeparately, type ImageFormat, type ImageInfo, type ImageMimeType } from './image-sniffer.ts';
import { filterJpegBuffer } from './jpeg-metadata-filter.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS } from './limits.ts';

/**
 * The largest photo the gateway will decode to scale down when libvips reads it a band of rows at a time (a JPEG or
 * PNG written top to bottom): memory follows the output, not the input.
 */
export const MAX_RESIZE_INPUT_PIXELS = 100_000_000;

/**
 * The largest photo the gateway will scale down when libvips must hold it whole to decode it: an interlaced PNG or a
 * progressive JPEG (whose passes each cover the whole image) and a GIF (drawn on a canvas of its screen size).
 * Measured per decode at 25 MP (5000×5000): 86 MiB for an 8-bit RGB interlaced PNG, 95 MiB for a 4:2:0 progressive
 * JPEG; with the lane of two at concurrency 8 that took the gateway to +318 and +450 MiB, far past its 256 MiB. At
 * 12.5 MP a decode takes about what a 12 MP baseline JPEG's resize does (40-50 MiB), and a 12 MP phone photo
 * (4032×3024) saved progressive still fits (the resize cell: +274 MiB at concurrency 8, +245 MiB interlaced PNG). A 4:4:4 progressive JPEG (7 bytes a pixel) or a 16-bit RGBA interlaced PNG
 * (10) takes up to twice that: the pixel count alone does not say.
 */
export const MAX_WHOLE_DECODE_PIXELS = 12_500_000;

/** Formats the gateway can decode and write again in the same format (libvips has no BMP writer). */
export const RESIZABLE_FORMATS: ReadonlySet<ImageFormat> = new Set<ImageFormat>(['JPEG', 'PNG', 'GIF']);

export interface FitOptions {
  /** JPEG quality of the first try (PHOTO_JPEG_QUALITY); lowered step by step while the result is over MAX_PHOTO_BYTES. */
  jpegQuality: number;
  /** Remove EXIF GPS data from what is sent (PHOTO_STRIP_LOCATION). */
  stripLocation: boolean;
  /** Send no EXIF, XMP, IPTC or comments (PHOTO_STRIP_METADATA); the ICC profile stays, it decides colours. */
  stripMetadata: boolean;
}

export type FitResult =
  | { ok: true; bytes: Buffer; format: ImageFormat; mimeType: ImageMimeType; width: number; height: number; locationRemoved: boolean }
  | { ok: false; problem: 'undecodable'; detail: string }
  | { ok: false; problem: 'too-large' }
  | { ok: false; problem: 'cancelled' };

/**
 * libjpeg's Huffman optimisation holds every coefficient of the image until the end (about 30 MB for 10 MP) and
 * takes three times as long; without it the file is a few per cent larger and the encoder streams. Measured on a
 * 12 MP JPEG: peak growth per resize 40-50 MB instead of 80-110 MB, 0.34 s instead of 1.2 s.
 */
const JPEG_OUTPUT = { optimiseCoding: false } as const;

/** The JPEG qualities tried after the configured one, while the result is still over the byte limit. */
const LOWER_QUALITIES = [75, 65, 55, 45];

type SharpModule = typeof import('sharp').default;
let loaded: Promise<SharpModule> | undefined;

/**
 * sharp (libvips) is loaded on the first photo that needs it, never at start-up: a gateway that only streams
 * photos through pays no memory or start-up time for it.
 *
 * Sized for a small container: no operation cache (every photo is a different image, a cache never hits and only
 * holds memory) and one libvips thread per image — the lane runs PHOTO_RESIZE_CONCURRENCY images at once, and that,
 * not libvips, decides how many cores resizing takes.
 */
function loadSharp(): Promise<SharpModule> {
  loaded ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    sharp.concurrency(1);
    return sharp;
  });
  return loaded;
}

/** The largest width and height with the same aspect whose product is within MAX_PHOTO_PIXELS. */
export function fittedSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.sqrt(MAX_PHOTO_PIXELS / (width * height));
  let w = Math.max(1, Math.floor(width * scale));
  let h = Math.max(1, Math.floor(height * scale));
  while (w * h > MAX_PHOTO_PIXELS) {
    if (w >= h) w -= 1;
    else h -= 1;
  }
  return { width: w, height: h };
}

/**
 * The most pixels the gateway will decode to scale this photo down, and why, in words for the caller. `bytes` is as
 * much of the file as has arrived: a baseline JPEG whose colours come in separate scans is only known by its first
 * scan header, so the answer may tighten once more has been read.
 */
export function resizeInputLimit(image: ImageInfo, bytes?: Uint8Array): { pixels: number; why: string } {
  if (image.format === 'GIF') return { pixels: MAX_WHOLE_DECODE_PIXELS, why: 'a GIF, which is decoded whole in memory' };
  if (image.progressive) {
    const kind = image.format === 'PNG' ? 'an interlaced PNG' : 'a progressive JPEG';
    return { pixels: MAX_WHOLE_DECODE_PIXELS, why: `${kind}, which is decoded whole in memory` };
  }
  if (image.format === 'JPEG' && bytes !== undefined && jpegScansSeparately(bytes)) {
    return { pixels: MAX_WHOLE_DECODE_PIXELS, why: 'a JPEG whose colours come in separate scans, which is decoded whole in memory' };
  }
  return { pixels: MAX_RESIZE_INPUT_PIXELS, why: 'any photo' };
}

const MIME_TYPES: Record<'JPEG' | 'PNG' | 'GIF', ImageMimeType> = { JPEG: 'image/jpeg', PNG: 'image/png', GIF: 'image/gif' };

/**
 * Scales a photo over the pixel limit down to the largest size within it, upright (EXIF orientation applied to the
 * pixels), re-encoded in its own format, within the byte limit. `image` is what the sniffer read from its head.
 */
export async function fitPhoto(input: Buffer, image: ImageInfo, options: FitOptions, signal?: AbortSignal): Promise<FitResult> {
  if (!RESIZABLE_FORMATS.has(image.format)) return { ok: false, problem: 'undecodable', detail: `${image.format} images cannot be scaled by the gateway` };
  const format = image.format as 'JPEG' | 'PNG' | 'GIF';
  const sharp = await loadSharp();
  // failOn 'error': a truncated or corrupt photo is refused rather than sent half grey.
  // The caller refuses a photo over this limit before reading it; libvips checks again against what it decodes.
  const open = (): Sharp => sharp(input, { limitInputPixels: resizeInputLimit(image, input).pixels, failOn: 'error', sequentialRead: true } satisfies SharpOptions);
  // libvips cannot be stopped mid-operation, but a client that left is not worth another one: checked before the
  // decode and before each encoding, so its turn goes to the next photo within one operation (at most a second or so).
  const gone = () => signal?.aborted === true;
  try {
    if (gone()) return { ok: false, problem: 'cancelled' };
    const metadata = await open().metadata();
    // Orientations 5 to 8 turn the image a quarter: the box is for the upright image.
    const quarterTurn = (metadata.orientation ?? 1) >= 5;
    const box = fittedSize(image.width, image.height);
    const target = quarterTurn ? { width: box.height, height: box.width } : box;
    const pipeline = () => {
      const resized = open().autoOrient().resize({ width: target.width, height: target.height, fit: 'inside' });
      // A JPEG keeps its metadata (EXIF, XMP, IPTC, ICC), then goes through the same filter as one sent byte for byte:
      // no GPS (EXIF or XMP) unless PHOTO_STRIP_LOCATION=false, nothing but ICC if PHOTO_STRIP_METADATA, and no
      // orientation (the pixels are upright now). A PNG or GIF keeps its ICC profile only.
      return format === 'JPEG' ? resized.keepMetadata() : resized.keepIccProfile();
    };
    // A PNG or GIF keeps no EXIF, so a GPS position in it is always left out.
    const pngOrGifLocation = format !== 'JPEG' && metadata.exif !== undefined && exifHasGps(metadata.exif);
    const attempts: ((s: Sharp) => Sharp)[] =
      format === 'JPEG'
        ? [options.jpegQuality, ...LOWER_QUALITIES.filter((q) => q < options.jpegQuality)].map((quality) => (s: Sharp) => s.jpeg({ quality, ...JPEG_OUTPUT }))
        : format === 'PNG'
          ? [(s: Sharp) => s.png({ compressionLevel: 6 }), (s: Sharp) => s.png({ compressionLevel: 9, adaptiveFiltering: true })]
          : [(s: Sharp) => s.gif()];
    for (const encode of attempts) {
      if (gone()) return { ok: false, problem: 'cancelled' };
      const { data, info } = await encode(pipeline()).toBuffer({ resolveWithObject: true });
      const filtered =
        format === 'JPEG'
          ? filterJpegBuffer(data, { stripLocation: options.stripLocation, stripMetadata: options.stripMetadata, dropOrientation: true })
          : { bytes: data, locationRemoved: pngOrGifLocation };
      const { bytes, locationRemoved } = filtered;
      if (info.width * info.height > MAX_PHOTO_PIXELS) return { ok: false, problem: 'too-large' };
      if (bytes.length <= MAX_PHOTO_BYTES) {
        return { ok: true, bytes, format, mimeType: MIME_TYPES[format], width: info.width, height: info.height, locationRemoved };
      }
    }
    return { ok: false, problem: 'too-large' };
  } catch (error) {
    // libvips' words about the bytes ("VipsJpeg: premature end of input file"); no path, no secret in them.
    const detail = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'the image could not be decoded';
    return { ok: false, problem: 'undecodable', detail: `the image could not be decoded (${detail})` };
  }
}
