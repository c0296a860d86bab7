/**
 * Phone photos the gateway scales down (each decoded and re-encoded: a second or two apiece), over loopback through
 * the real emulator, which reads what it stored with its own decoders. The quick cases are in phone-photos.test.ts.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { useStack } from '../support/stack.ts';
import { isRed, largePng, phoneJpeg, photoResultOf as resultOf, pixelAt, uploadPhonePhoto, xmpPacket } from '../support/phone-photos.ts';

const LIMIT_PIXELS = 10_000_000;
const LIMIT_BYTES = 10 * 1024 * 1024;

describe('with the defaults', () => {
  const stack = useStack();

  it('scales a 12 MP JPEG down to fit when asked: the CRM gets a decodable JPEG within 10 MP', async () => {
    const result = resultOf(await uploadPhonePhoto(stack.url, await phoneJpeg(4032, 3024, { gps: true }), { fitToLimits: true }));
    expect(result.__typename).toBe('UploadRecordPhotoSuccess');
    const stored = await stack.crm.photo('Leads', '1000000000001');
    expect(stored).not.toBeNull();
    // What the emulator measured is what the gateway says the CRM received.
    const [width, height] = stored!.dimensions.split('x').map(Number) as [number, number];
    expect(width * height).toBeLessThanOrEqual(LIMIT_PIXELS);
    expect(width * height).toBeGreaterThan(0.99 * LIMIT_PIXELS);
    expect(width / height).toBeCloseTo(4032 / 3024, 2);
    expect(result.photo).toEqual({
      filename: 'IMG_0001.jpg',
      contentType: 'image/jpeg',
      format: 'JPEG',
      byteSize: stored!.bytes.length,
      width,
      height,
      resized: true,
      originalWidth: 4032,
      originalHeight: 3024,
      locationRemoved: true,
    });
    expect(stored!.contentType).toBe('image/jpeg');
    expect(stored!.gps).toBe(false);
    // Decoded in full, every pixel, not just its header.
    const decoded = await sharp(stored!.bytes).raw().toBuffer({ resolveWithObject: true });
    expect(decoded.info).toMatchObject({ width, height, format: 'raw' });
    // Other metadata stays: the camera's make is still there.
    expect((await sharp(stored!.bytes).metadata()).exif?.toString('latin1')).toContain('PhoneMaker');
  });

  it('keeps the XMP of a photo it scales down, but not a GPS position in it, and says the location was removed', async () => {
    const located = await phoneJpeg(4032, 3024, { xmp: xmpPacket({ creator: 'Field Worker', gps: true }) });
    expect(resultOf(await uploadPhonePhoto(stack.url, located, { fitToLimits: true })).photo).toMatchObject({ resized: true, locationRemoved: true });
    let stored = (await stack.crm.photo('Leads', '1000000000001'))!.bytes.toString('latin1');
    expect(stored).not.toContain('GPSLatitude');
    expect(stored).not.toContain('Field Worker'); // a packet with a position goes whole, as for a photo sent byte for byte

    const unlocated = await phoneJpeg(4032, 3024, { xmp: xmpPacket({ creator: 'Field Worker' }) });
    expect(resultOf(await uploadPhonePhoto(stack.url, unlocated, { fitToLimits: true })).photo).toMatchObject({ resized: true, locationRemoved: false });
    stored = (await stack.crm.photo('Leads', '1000000000001'))!.bytes.toString('latin1');
    expect(stored).toContain('<rdf:li>Field Worker</rdf:li>');
  });

  it('turns an orientation-6 photo upright when it scales it: rotated pixels, no orientation tag', async () => {
    const sideways = await phoneJpeg(4032, 3024, { orientation: 6 });
    const result = resultOf(await uploadPhonePhoto(stack.url, sideways, { fitToLimits: true }));
    expect(result.photo).toMatchObject({ resized: true, originalWidth: 4032, originalHeight: 3024, locationRemoved: false });
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!;
    expect(stored.orientation).toBeNull();
    const [width, height] = stored.dimensions.split('x').map(Number) as [number, number];
    expect(height).toBeGreaterThan(width); // portrait, as the phone was held
    expect(result.photo).toMatchObject({ width, height });
    // Orientation 6 means "turn 90° clockwise to view": the stored top-left square is now at the top right.
    expect(isRed(await pixelAt(stored.bytes, width - 5, 5))).toBe(true);
    expect(isRed(await pixelAt(stored.bytes, 5, 5))).toBe(false);
  });

  it('scales a 25 MP PNG down to a PNG within both limits', async () => {
    const png = await largePng(5000, 5000);
    const result = resultOf(await uploadPhonePhoto(stack.url, png, { fitToLimits: true, filename: 'scan.png' }));
    expect(result.__typename).toBe('UploadRecordPhotoSuccess');
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!;
    const [width, height] = stored.dimensions.split('x').map(Number) as [number, number];
    expect(stored.bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(width * height).toBeLessThanOrEqual(LIMIT_PIXELS);
    expect(width).toBe(height);
    expect(stored.bytes.length).toBeLessThanOrEqual(LIMIT_BYTES);
    expect(result.photo).toMatchObject({ format: 'PNG', contentType: 'image/png', resized: true, width, height, originalWidth: 5000, originalHeight: 5000, byteSize: stored.bytes.length });
    expect((await sharp(stored.bytes).raw().toBuffer({ resolveWithObject: true })).info).toMatchObject({ width, height });
  });

  it('refuses a photo over the limit it cannot decode, with no CRM call', async () => {
    const photo = await phoneJpeg(4032, 3024);
    // Cut off in the middle of its image data: the header says 12 MP, the pixels never come.
    const cut = photo.subarray(0, Math.floor(photo.length * 0.6));
    const result = resultOf(await uploadPhonePhoto(stack.url, cut, { fitToLimits: true }));
    expect(result).toMatchObject({ __typename: 'PhotoRejectedError', reason: 'UNSUPPORTED_FORMAT' });
    expect((await stack.crm.requests()).filter((entry) => entry.method === 'POST')).toEqual([]);
  });
});

describe('with PHOTO_FIT_TO_LIMITS=true', () => {
  const stack = useStack({ PHOTO_FIT_TO_LIMITS: 'true' });

  it('scales down a photo whose request does not say, and a request may still say no', async () => {
    const photo = await phoneJpeg(4032, 3024);
    expect(resultOf(await uploadPhonePhoto(stack.url, photo)).photo).toMatchObject({ resized: true });
    expect(resultOf(await uploadPhonePhoto(stack.url, photo, { fitToLimits: false }))).toMatchObject({ reason: 'TOO_MANY_PIXELS' });
  });
});

describe('with PHOTO_STRIP_METADATA=true', () => {
  const stack = useStack({ PHOTO_STRIP_METADATA: 'true' });

  it('scales a photo down without any EXIF', async () => {
    const photo = await phoneJpeg(4032, 3024, { gps: true });
    expect(resultOf(await uploadPhonePhoto(stack.url, photo, { fitToLimits: true })).photo).toMatchObject({ resized: true, locationRemoved: true });
    expect((await sharp((await stack.crm.photo('Leads', '1000000000001'))!.bytes).metadata()).exif).toBeUndefined();
  });

  it('scales a photo down without its XMP, and says a position in it was removed', async () => {
    const photo = await phoneJpeg(4032, 3024, { xmp: xmpPacket({ creator: 'Field Worker', gps: true }) });
    expect(resultOf(await uploadPhonePhoto(stack.url, photo, { fitToLimits: true })).photo).toMatchObject({ resized: true, locationRemoved: true });
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!.bytes;
    expect(stored.toString('latin1')).not.toContain('Field Worker');
    expect((await sharp(stored).metadata()).xmp).toBeUndefined();
  });
});

describe('with PHOTO_JPEG_QUALITY=100', () => {
  const stack = useStack({ PHOTO_JPEG_QUALITY: '100' });

  it('lowers the quality of a scaled-down JPEG that would be over 10 MiB, until it fits', async () => {
    // Noise does not compress: 12 MP of it is 4.9 MB at quality 75, and about 14 MB once scaled to 10 MP at quality 100.
    const noisy = await sharp({ create: { width: 4032, height: 3024, channels: 3, background: { r: 128, g: 128, b: 128 }, noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg({ quality: 75 })
      .toBuffer();
    expect(noisy.length).toBeLessThan(LIMIT_BYTES);
    const result = resultOf(await uploadPhonePhoto(stack.url, noisy, { fitToLimits: true }));
    expect(result.photo).toMatchObject({ resized: true, format: 'JPEG' });
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!;
    expect(stored.bytes.length).toBeLessThanOrEqual(LIMIT_BYTES);
    expect(result.photo?.byteSize).toBe(stored.bytes.length);
    // The first quantization table says the quality: all 1s at 100; libjpeg's luminance table at 75 starts at 8.
    const dqt = stored.bytes.indexOf(Buffer.from([0xff, 0xdb]));
    expect(stored.bytes[dqt + 5]).toBe(8);
  });
});
