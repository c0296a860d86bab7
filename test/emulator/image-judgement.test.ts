/**
 * The emulator judges an upload's format and pixel count with image-size, not with the gateway's sniffer:
 * each case checks what image-size reads from the file, then what the emulator answers for it.
 */
import { imageSize } from 'image-size';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CRM_MAX_PHOTO_BYTES, CRM_MAX_PHOTO_PIXELS } from '../../emulator/photo-check.ts';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import {
  asciiBytes,
  bmp,
  concatBytes,
  exifSegment,
  gif,
  iccSegment,
  jpeg,
  png,
  setJpegDimensions,
  setJpegFrameMarker,
  setPngDimensions,
  webp,
  withJpegSegments,
  type Bytes,
} from '../fixtures/images.ts';
import { crmError, RECORD, upload } from './helpers.ts';

let emulator: CrmEmulator;

beforeAll(async () => {
  emulator = await startCrmEmulator();
});
afterAll(() => emulator.close());
beforeEach(() => emulator.state.reset());

const TOO_LARGE = crmError('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', 'please check if the file size is in the correct range');
const NOT_AN_IMAGE = crmError('INVALID_DATA', 'the file is not a supported image');

async function send(bytes: Uint8Array): Promise<{ status: number; json: unknown }> {
  return upload(emulator.origin, { bytes: Buffer.from(bytes), filename: 'photo', contentType: 'application/octet-stream' });
}

function measured(bytes: Uint8Array): { type: string | undefined; width: number; height: number } {
  const { type, width, height } = imageSize(new Uint8Array(bytes));
  return { type, width, height };
}

// 10,000,001 = 11 x 909,091, beyond 16-bit dimensions; 282 x 35,461 = 10,000,002 is the smallest pixel count
// above the limit that a JPEG's or GIF's 16-bit width and height can state.
const JPEG_OVER = { width: 282, height: 35_461 } as const;

describe("the CRM's documented limits", () => {
  it('are 10 MB (10,485,760 bytes) and 10,000,000 pixels', () => {
    expect(CRM_MAX_PHOTO_BYTES).toBe(10_485_760);
    expect(CRM_MAX_PHOTO_PIXELS).toBe(10_000_000);
  });
});

describe('the pixel limit, as image-size reads the file', () => {
  interface Case {
    format: string;
    build: () => Bytes;
    type: string;
    width: number;
    height: number;
    verdict: 'accepted' | 'refused';
  }
  const { width: w, height: h } = JPEG_OVER;
  const cases: Case[] = [
    { format: 'PNG', build: () => png(4000, 2500), type: 'png', width: 4000, height: 2500, verdict: 'accepted' },
    { format: 'PNG', build: () => png(11, 909_091), type: 'png', width: 11, height: 909_091, verdict: 'refused' },
    { format: 'baseline JPEG', build: () => jpeg(4000, 2500), type: 'jpg', width: 4000, height: 2500, verdict: 'accepted' },
    { format: 'baseline JPEG', build: () => jpeg(w, h), type: 'jpg', width: w, height: h, verdict: 'refused' },
    {
      format: 'progressive JPEG',
      build: () => jpeg(2500, 4000, { progressive: true }),
      type: 'jpg',
      width: 2500,
      height: 4000,
      verdict: 'accepted',
    },
    {
      format: 'progressive JPEG',
      build: () => jpeg(h, w, { progressive: true }),
      type: 'jpg',
      width: h,
      height: w,
      verdict: 'refused',
    },
    { format: 'GIF', build: () => gif(4000, 2500), type: 'gif', width: 4000, height: 2500, verdict: 'accepted' },
    { format: 'GIF', build: () => gif(w, h), type: 'gif', width: w, height: h, verdict: 'refused' },
    {
      format: 'BMP',
      build: () => bmp(4000, 2500, { bitsPerPixel: 1 }),
      type: 'bmp',
      width: 4000,
      height: 2500,
      verdict: 'accepted',
    },
    {
      format: 'top-down BMP',
      build: () => bmp(11, 909_091, { bitsPerPixel: 1, topDown: true }),
      type: 'bmp',
      width: 11,
      height: 909_091,
      verdict: 'refused',
    },
  ];

  it.each(cases)('a $format of $width x $height pixels is $verdict', async ({ build, type, width, height, verdict }) => {
    const file = build();
    expect(measured(file)).toEqual({ type, width, height });
    const answer = await send(file);
    if (verdict === 'accepted') {
      expect(answer.json).toMatchObject({ code: 'SUCCESS' });
      expect(emulator.state.photo('Leads', RECORD)?.size).toBe(file.length);
    } else {
      expect(answer.status).toBe(415);
      expect(answer.json).toEqual(TOO_LARGE);
      expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
    }
  });

  it('refuses a 10,000,001-pixel PNG and accepts a 10,000,000-pixel one', async () => {
    const over = png(11, 909_091);
    const at = png(5000, 2000);
    const pixels = (file: Bytes): number => measured(file).width * measured(file).height;
    expect(pixels(over)).toBe(10_000_001);
    expect(pixels(at)).toBe(10_000_000);
    expect((await send(over)).json).toEqual(TOO_LARGE);
    expect((await send(at)).json).toMatchObject({ code: 'SUCCESS' });
  });

  it('reads a JPEG frame header that sits ~120 KB in, behind EXIF and ICC segments', async () => {
    const behind = (file: Bytes): Bytes => withJpegSegments(file, exifSegment(60_000), iccSegment(60_000));
    const at = behind(jpeg(4000, 2500));
    const over = behind(setJpegDimensions(jpeg(8, 8), JPEG_OVER.width, JPEG_OVER.height));
    expect(measured(at)).toEqual({ type: 'jpg', width: 4000, height: 2500 });
    expect(measured(over)).toEqual({ type: 'jpg', ...JPEG_OVER });
    expect((await send(at)).json).toMatchObject({ code: 'SUCCESS' });
    expect((await send(over)).json).toEqual(TOO_LARGE);
  });

  it('reads a JPEG frame header anywhere in the file, not only in a leading window', async () => {
    const far = withJpegSegments(jpeg(40, 30), ...Array.from({ length: 6 }, () => exifSegment(60_000)));
    expect(measured(far)).toEqual({ type: 'jpg', width: 40, height: 30 });
    expect((await send(far)).json).toMatchObject({ code: 'SUCCESS' });
  });

  it('reads the 16-bit dimensions of an OS/2 BMP (12-byte header), which image-size reads as 32-bit fields', async () => {
    const at = bmp(4000, 2500, { bitsPerPixel: 1, coreHeader: true });
    const over = bmp(JPEG_OVER.width, JPEG_OVER.height, { bitsPerPixel: 1, coreHeader: true });
    // Once image-size reads this header right, emulator/photo-check.ts can drop its own reading.
    expect(measured(at)).toEqual({ type: 'bmp', width: 4000 + 2500 * 65_536, height: 65_537 });
    expect((await send(at)).json).toMatchObject({ code: 'SUCCESS' });
    expect((await send(over)).json).toEqual(TOO_LARGE);
  });
});

describe('formats the CRM does not show', () => {
  const tiff = concatBytes(
    asciiBytes('II*\0'),
    Uint8Array.of(8, 0, 0, 0), // the first IFD at byte 8
    Uint8Array.of(2, 0), // two entries: ImageWidth and ImageLength, SHORT, 10 each
    Uint8Array.of(0x00, 0x01, 3, 0, 1, 0, 0, 0, 10, 0, 0, 0),
    Uint8Array.of(0x01, 0x01, 3, 0, 1, 0, 0, 0, 10, 0, 0, 0),
    Uint8Array.of(0, 0, 0, 0), // no next IFD
  );
  const ico = concatBytes(
    Uint8Array.of(0, 0, 1, 0, 1, 0), // reserved, icon, one image
    Uint8Array.of(16, 16, 0, 0, 1, 0, 32, 0, 0, 0, 0, 0, 22, 0, 0, 0), // 16x16, 32 bits, no data
  );
  const svg = asciiBytes('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>');

  it.each([
    ['a WebP', webp(10, 10), 'webp'],
    ['an SVG', svg, 'svg'],
    ['a TIFF', tiff, 'tiff'],
    ['an ICO', ico, 'ico'],
  ])('answers 400 INVALID_DATA for %s, which image-size recognises', async (_format, file, type) => {
    expect(measured(file).type).toBe(type);
    const answer = await send(file);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(NOT_AN_IMAGE);
    expect(emulator.state.photo('Leads', RECORD)).toBeUndefined();
  });
});

describe('files image-size cannot give a size to', () => {
  it.each([
    ['a PNG 0 pixels wide', setPngDimensions(png(1, 1), 0, 1)],
    ['a JPEG of height 0 (defined later by a DNL marker)', setJpegDimensions(jpeg(8, 8), 8, 0)],
    ['a GIF 0 pixels high', gif(1, 0)],
    // image-size finds only SOF0-2 frame headers; browsers do not show lossless or arithmetic-coded JPEGs either.
    ['a lossless (SOF3) JPEG', setJpegFrameMarker(jpeg(8, 8), 0xc3)],
    ['a truncated PNG', png(3, 4).subarray(0, 20)],
  ])('answers 400 INVALID_DATA for %s', async (_case, file) => {
    expect((await send(file)).json).toEqual(NOT_AN_IMAGE);
  });
});
