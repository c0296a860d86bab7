/** Phone-like photos, generated with sharp at test time (no large fixtures in the repository), and a mutation that asks for them to fit. */
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
}

/** A JPEG as a phone writes it: EXIF with a camera make, optionally an orientation and a GPS position. */
export async function phoneJpeg(width: number, height: number, options: PhoneJpegOptions = {}): Promise<Buffer> {
  let image = picture(width, height).jpeg({ quality: options.quality ?? 90 });
  if (options.orientation !== undefined) image = image.withMetadata({ orientation: options.orientation });
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
