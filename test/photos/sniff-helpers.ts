import { sniffImage, type SniffResult } from '../../src/photos/image-sniffer.ts';
import { SNIFF_LOOKAHEAD_BYTES } from '../../src/photos/limits.ts';
import {
  JPEG_MARKER,
  bmp,
  commentSegment,
  exifSegment,
  gif,
  iccSegment,
  jpeg,
  pdf,
  png,
  setBmpDimensions,
  setJpegDimensions,
  setJpegFrameMarker,
  setPngDimensions,
  textFile,
  webp,
  withJpegSegments,
} from '../fixtures/images.ts';

/** Shared by image-sniffer.test.ts and its exhaustive replays in image-sniffer.stress.test.ts. */

export function sniff(bytes: Uint8Array, complete = true): SniffResult {
  return sniffImage(bytes, { complete });
}

/** Feeds growing prefixes the way the upload reader does and returns its first decisive answer. */
export function feedInChunks(file: Uint8Array, chunkBytes: number): SniffResult {
  for (let length = Math.min(chunkBytes, file.length); ; length = Math.min(length + chunkBytes, file.length)) {
    const complete = length === file.length || length >= SNIFF_LOOKAHEAD_BYTES;
    const answer = sniff(file.subarray(0, length), complete);
    if (answer.status !== 'need-more' || complete) return answer;
  }
}

/** Files whose decisive bytes all lie within the look-ahead: valid ones and every flavour of hostile one. */
export function chunkingCases(): [string, Uint8Array][] {
  const bigSegments = withJpegSegments(jpeg(1600, 1200), exifSegment(60_000), iccSegment(60_000), commentSegment(60_000));
  return [
    ['PNG', png(4000, 3000)],
    ['PNG width 2^31', setPngDimensions(png(1, 1), 2 ** 31, 1)],
    ['PNG zero height', setPngDimensions(png(1, 1), 1, 0)],
    ['JPEG baseline', jpeg(4000, 3000)],
    ['JPEG progressive', jpeg(40, 30, { progressive: true })],
    ['JPEG behind 180 KB of segments', bigSegments],
    ['JPEG 65535x65535', setJpegDimensions(jpeg(8, 8), 65535, 65535)],
    ['JPEG DNL height', setJpegDimensions(jpeg(8, 8), 8, 0)],
    ['JPEG SOS first', setJpegFrameMarker(jpeg(8, 8), JPEG_MARKER.DHT)],
    ['JPEG cut before SOF', jpeg(8, 8).subarray(0, 30)],
    ['GIF', gif(300, 200)],
    ['GIF zero width', gif(0, 1)],
    ['BMP', bmp(64, 48)],
    ['BMP top-down', bmp(64, 48, { topDown: true })],
    ['BMP negative width', setBmpDimensions(bmp(1, 1), -1, 1)],
    ['BMP core', bmp(64, 48, { coreHeader: true })],
    ['BMP padded to 10 MiB', bmp(64, 48, { padToBytes: 10 * 1024 * 1024 })],
    ['PDF', pdf()],
    ['WebP', webp(10, 10)],
    ['text', textFile('plain text')],
    ['one byte of PNG', Uint8Array.of(0x89)],
  ];
}
