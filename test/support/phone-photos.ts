/** Phone-like photos, generated with sharp at test time (no large fixtures in the repository), and a mutation that asks for them to fit. */
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { GraphQLResponse } from './upload-client.ts';

export const FIT_MUTATION = /* GraphQL */ `
  mutation UploadPhoneRecordPhoto($module: CrmModule!, $recordId: ID!, $file: Upload!, $fitToLimits: Boolean) {
    uploadRecordPhoto(module: $module, recordId: $recordId, file: $file, fitToLimits: $fitToLimits) {
      __typename
      ... on UploadRecordPhotoSuccess {
        photo { filename contentType format byteSize width height resized originalWidth originalHeight locationRemoved }
      }
      ... on CrmError { code message }
      ... on PhotoRejectedError { reason }
      ... on RateLimitedError { retryAfterSeconds }
    }
  }
`;

/** Sends FIT_MUTATION with `fitToLimits` (undefined: the variable is left out, so the gateway's default applies). */
export async function uploadPhonePhoto(
  url: string,
  file: Uint8Array,
  options: { fitToLimits?: boolean; filename?: string; recordId?: string } = {},
): Promise<GraphQLResponse['body']> {
  const form = new FormData();
  const variables: Record<string, unknown> = { module: 'LEADS', recordId: options.recordId ?? '1000000000001', file: null };
  if (options.fitToLimits !== undefined) variables.fitToLimits = options.fitToLimits;
  form.set('operations', JSON.stringify({ query: FIT_MUTATION, variables }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([new Uint8Array(file)]), options.filename ?? 'IMG_0001.jpg');
  const response = await fetch(url, {
    method: 'POST',
    body: form,
    headers: { 'apollo-require-preflight': 'true', authorization: 'Zoho-oauthtoken emulator-token' },
  });
  return (await response.json()) as GraphQLResponse['body'];
}

export const RED = { r: 255, g: 0, b: 0 };

/** A grey picture with a red square in its stored top-left corner: where that square ends up shows how it was turned. */
function picture(width: number, height: number) {
  const square = Math.max(8, Math.floor(Math.min(width, height) / 10));
  return sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).composite([
    { input: { create: { width: square, height: square, channels: 3, background: RED } }, left: 0, top: 0 },
  ]);
}

export interface PhoneJpegOptions {
  /** EXIF Orientation (1-8); absent: no orientation tag. */
  orientation?: number;
  /** true: EXIF GPS data (a position in London). */
  gps?: boolean;
  quality?: number;
  /** An XMP packet to write (see xmpPacket). */
  xmp?: string;
}

/** An XMP packet with a creator and, when asked, a GPS position (exif:GPSLatitude/GPSLongitude), as a phone app writes it. */
export function xmpPacket(options: { creator: string; gps?: boolean }): string {
  const gps = options.gps ? ' exif:GPSLatitude="51,30.43N" exif:GPSLongitude="0,7.65W"' : '';
  return (
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:exif="http://ns.adobe.com/exif/1.0/"${gps}>` +
    `<dc:creator><rdf:Seq><rdf:li>${options.creator}</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
  );
}

/** A JPEG as a phone writes it: EXIF with a camera make, optionally an orientation and a GPS position. */
export async function phoneJpeg(width: number, height: number, options: PhoneJpegOptions = {}): Promise<Buffer> {
  let image = picture(width, height).jpeg({ quality: options.quality ?? 90 });
  if (options.orientation !== undefined) image = image.withMetadata({ orientation: options.orientation });
  if (options.xmp !== undefined) image = image.withXmp(options.xmp);
  return image
    .withExifMerge({
      IFD0: { Make: 'PhoneMaker', Model: 'Field Phone 12' },
      ...(options.gps ? { IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2600/100', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 3900/100' } } : {}),
    })
    .toBuffer();
}

/** A PNG of `width`×`height`, flat enough to stay small in bytes however many pixels it has. */
export async function largePng(width: number, height: number): Promise<Buffer> {
  return picture(width, height).png({ compressionLevel: 9 }).toBuffer();
}

/** The colour of one pixel of an image, decoded. */
export async function pixelAt(image: Uint8Array, x: number, y: number): Promise<{ r: number; g: number; b: number }> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return { r: data[at]!, g: data[at + 1]!, b: data[at + 2]! };
}

/** The union member of a response to FIT_MUTATION, or a failed test. */
export function photoResultOf(body: GraphQLResponse['body']): { __typename: string; photo?: Record<string, unknown>; reason?: string; code?: string } {
  if (body.errors?.length || !body.data) throw new Error(`expected a result, got ${JSON.stringify(body)}`);
  return body.data.uploadRecordPhoto as { __typename: string; photo?: Record<string, unknown>; reason?: string; code?: string };
}

export function isRed({ r, g, b }: { r: number; g: number; b: number }): boolean {
  return r > 200 && g < 60 && b < 60;
}

/** The [start, end) of each marker segment of a well-formed JPEG before its first scan, and where the scan starts. */
export function segmentsOf(jpeg: Buffer): { segments: { marker: number; start: number; end: number }[]; scan: number } {
  const segments: { marker: number; start: number; end: number }[] = [];
  let at = 2;
  while (jpeg[at + 1] !== 0xda) {
    const end = at + 2 + jpeg.readUInt16BE(at + 2);
    segments.push({ marker: jpeg[at + 1]!, start: at, end });
    at = end;
  }
  return { segments, scan: at };
}

// ---- Decompression bombs: a few hundred KB at most, whose header claims many millions of pixels ----

/** An Adam7-interlaced 1-bit greyscale PNG, all black: every scanline of every pass, deflated to almost nothing. */
export function interlacedPng(width: number, height: number): Buffer {
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;
  let raw = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const columns = Math.ceil(Math.max(0, width - x0) / dx);
    const rows = Math.ceil(Math.max(0, height - y0) / dy);
    if (columns > 0) raw += rows * (1 + Math.ceil(columns / 8)); // filter byte 0, then the 1-bit pixels, all 0
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 1], 8); // bit depth 1, greyscale, deflate, adaptive filtering, Adam7
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(raw))), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}

/** A 35-byte GIF: a logical screen of `width`×`height` around a single 1×1 frame. */
export function gifScreen(width: number, height: number): Buffer {
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen.set([0x80, 0, 0], 4); // a global table of 2 colours
  return Buffer.concat([
    Buffer.from('GIF89a', 'latin1'),
    screen,
    Buffer.from([0, 0, 0, 255, 255, 255]),
    Buffer.from([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0]), // the frame: at (0, 0), 1×1, no local table
    Buffer.from([2, 2, 0x44, 0x01, 0]), // LZW, 2-bit codes: clear, colour 0, end
    Buffer.from([0x3b]),
  ]);
}

/** A flat progressive JPEG (SOF2); sharp holds it whole to encode it, so a few seconds at 25 MP and more. */
export async function progressiveJpeg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg({ progressive: true, quality: 50 }).toBuffer();
}
