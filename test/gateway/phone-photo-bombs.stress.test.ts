/**
 * Decompression bombs: files of a few hundred KB at most whose header claims many millions of pixels, in the formats
 * libvips must hold whole to decode (an interlaced PNG, a progressive JPEG, a JPEG whose colours come in separate
 * scans, a GIF). Asked to fit them, the gateway
 * refuses them on their header alone, before decoding: at 100 MP each would take 113-330 MiB of the gateway's memory.
 */
import { describe, expect, it } from 'vitest';
import { sniffImage } from '../../src/photos/image-sniffer.ts';
import { jpeg } from '../fixtures/images.ts';
import { useStack } from '../support/stack.ts';
import { gifScreen, interlacedPng, photoResultOf as resultOf, progressiveJpeg, uploadPhonePhoto } from '../support/phone-photos.ts';

describe('photos a decoder must hold whole, asked to fit', () => {
  const stack = useStack();

  it.each([
    ['an interlaced PNG', 'scan.png', () => interlacedPng(10_000, 10_000), 10_000, 10_000],
    ['a progressive JPEG', 'IMG_0001.jpg', () => progressiveJpeg(4_100, 3_100), 4_100, 3_100],
    ['a GIF', 'anim.gif', () => gifScreen(10_000, 10_000), 10_000, 10_000],
    // Baseline (SOF0), but its three colours each in a scan of their own: libjpeg holds every coefficient.
    ['a JPEG whose colours come in separate scans', 'scan.jpg', () => Buffer.from(jpeg(4_000, 3_200, { separateScans: true })), 4_000, 3_200],
  ] as const)('refuses %s over 12.5 MP on its header, saying why, with no CRM call', async (kind, filename, build, width, height) => {
    const bomb = await build();
    expect(bomb.length).toBeLessThan(700_000);
    // The file is what it claims: its own header says these pixels.
    const sniffed = sniffImage(bomb, { complete: true });
    expect(sniffed).toMatchObject({ status: 'image', image: { width, height } });
    const result = resultOf(await uploadPhonePhoto(stack.url, bomb, { fitToLimits: true, filename }));
    expect(result).toMatchObject({ __typename: 'PhotoRejectedError', reason: 'TOO_MANY_PIXELS', code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE' });
    expect((result as { message?: string }).message).toBe(
      `The image is ${width}×${height} pixels, more than the 10000000 the CRM allows, and too large to scale down: ` +
        `the gateway scales down at most 12500000 pixels for ${kind}, which is decoded whole in memory.`,
    );
    expect((await stack.crm.requests()).filter((entry) => entry.method === 'POST')).toEqual([]);
  });

  it('still scales down a progressive 12 MP phone photo', async () => {
    const photo = await progressiveJpeg(4032, 3024);
    const result = resultOf(await uploadPhonePhoto(stack.url, photo, { fitToLimits: true }));
    expect(result.photo).toMatchObject({ resized: true, format: 'JPEG', originalWidth: 4032, originalHeight: 3024 });
    const stored = (await stack.crm.photo('Leads', '1000000000001'))!;
    const [w, h] = stored.dimensions.split('x').map(Number) as [number, number];
    expect(w * h).toBeLessThanOrEqual(10_000_000);
  });
});
