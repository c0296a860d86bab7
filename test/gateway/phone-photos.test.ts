/**
 * Phone photos over loopback, through the real emulator, which reads what it stored with its own decoders
 * (image-size for the pixels, its own EXIF reader for orientation and GPS): fitting to the CRM's limits, upright,
 * without the location.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { useStack } from '../support/stack.ts';
import { jpeg } from '../fixtures/images.ts';
import { phoneJpeg, photoResultOf as resultOf, segmentsOf, uploadPhonePhoto } from '../support/phone-photos.ts';

describe('with the defaults (PHOTO_FIT_TO_LIMITS=false, PHOTO_STRIP_LOCATION=true)', () => {
  const stack = useStack();

  it('still refuses the 12 MP photo without fitToLimits, with no CRM call', async () => {
    const result = resultOf(await uploadPhonePhoto(stack.url, jpeg(4032, 3024)));
    expect(result).toMatchObject({ __typename: 'PhotoRejectedError', reason: 'TOO_MANY_PIXELS', code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE' });
    expect((await stack.crm.requests()).filter((entry) => entry.method === 'POST')).toEqual([]);
    expect(await stack.crm.photo('Leads', '1000000000001')).toBeNull();
  });

  it('takes the GPS data out of a JPEG it sends byte for byte, and changes nothing else', async () => {
    const photo = await phoneJpeg(1600, 1200, { gps: true, orientation: 3 });
    const result = resultOf(await uploadPhonePhoto(stack.url, photo, { fitToLimits: true }));
    expect(result.photo).toMatchObject({ resized: false, width: 1600, height: 1200, originalWidth: 1600, originalHeight: 1200, locationRemoved: true });
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!;
    expect(stored.gps).toBe(false);
    expect(stored.orientation).toBe(3); // within the limits: never decoded, the tag is left for viewers
    expect(stored.dimensions).toBe('1600x1200');
    expect(result.photo?.byteSize).toBe(stored.bytes.length);
    // Same length, and every byte that differs lies inside the EXIF segment.
    expect(stored.bytes.length).toBe(photo.length);
    const exif = segmentsOf(photo).segments.find((s) => s.marker === 0xe1)!;
    const changed = [...photo.keys()].filter((i) => photo[i] !== stored.bytes[i]);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((i) => i >= exif.start && i < exif.end)).toBe(true);
    expect((await sharp(stored.bytes).metadata()).exif?.toString('latin1')).toContain('PhoneMaker');
  });

  it('sends a JPEG without GPS byte for byte, and says nothing was removed', async () => {
    const photo = await phoneJpeg(800, 600, { orientation: 1 });
    const result = resultOf(await uploadPhonePhoto(stack.url, photo));
    expect(result.photo).toMatchObject({ resized: false, locationRemoved: false, byteSize: photo.length });
    expect((await stack.crm.photo('Leads', '1000000000001'))!.bytes.equals(photo)).toBe(true);
  });
});

describe('with PHOTO_FIT_TO_LIMITS=true and PHOTO_STRIP_LOCATION=false', () => {
  const stack = useStack({ PHOTO_FIT_TO_LIMITS: 'true', PHOTO_STRIP_LOCATION: 'false' });

  it('sends a JPEG with GPS byte for byte', async () => {
    const photo = await phoneJpeg(800, 600, { gps: true });
    expect(resultOf(await uploadPhonePhoto(stack.url, photo)).photo).toMatchObject({ locationRemoved: false, byteSize: photo.length });
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!;
    expect(stored.gps).toBe(true);
    expect(stored.bytes.equals(photo)).toBe(true);
  });
});

describe('with PHOTO_STRIP_METADATA=true', () => {
  const stack = useStack({ PHOTO_STRIP_METADATA: 'true' });

  it('sends a JPEG within the limits without its EXIF, and the image data as it was', async () => {
    const photo = await phoneJpeg(800, 600, { gps: true, orientation: 1 });
    const result = resultOf(await uploadPhonePhoto(stack.url, photo));
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!;
    expect(result.photo).toMatchObject({ locationRemoved: true, byteSize: stored.bytes.length });
    expect(stored.gps).toBe(false);
    expect(stored.orientation).toBeNull();
    expect((await sharp(stored.bytes).metadata()).exif).toBeUndefined();
    expect(stored.bytes.subarray(segmentsOf(stored.bytes).scan).equals(photo.subarray(segmentsOf(photo).scan))).toBe(true);
  });
});

describe('GraphiQL', () => {
  const stack = useStack({}, { resetEachTest: false });

  it("opens on an upload that asks for the photo to fit, and shows what was done to it", async () => {
    const page = await (await fetch(stack.url, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain('file: $file, fitToLimits: true)');
    expect(page).toContain('resized originalWidth originalHeight locationRemoved');
  });
});
