/**
 * The streaming filter that takes a JPEG's location (and, when asked, its other metadata) out without decoding it:
 * what it removes, what it must leave alone, and hostile input (truncated segments, lengths and offsets past the end,
 * IFDs that point into themselves), chunked every way. The emulator's EXIF reader (emulator/photo-exif.ts, which
 * shares no code with the gateway) reads the results.
 */
import { describe, expect, it } from 'vitest';
import { readPhotoExif } from '../../emulator/photo-exif.ts';
import { exifHasGps, removeExifTags } from '../../src/photos/exif.ts';
import { filterJpegBuffer, JpegMetadataFilter, type JpegFilterOptions } from '../../src/photos/jpeg-metadata-filter.ts';
import { asciiBytes, commentSegment, concatBytes, iccSegment, jpeg, JPEG_MARKER, jpegSegment, png, withJpegSegments } from '../fixtures/images.ts';

const LOCATION: JpegFilterOptions = { stripLocation: true, stripMetadata: false };
const EVERYTHING: JpegFilterOptions = { stripLocation: true, stripMetadata: true };

// ---------------------------------------------------------------------------------------------------------------
// A hand-built EXIF block, in either byte order: IFD0 (Make, Orientation, GPSInfo), then the GPS IFD and its values.

interface TiffOptions {
  order?: 'II' | 'MM';
  orientation?: number;
  gps?: boolean;
  /** Override the GPSInfo entry's offset (a hostile one). */
  gpsOffset?: number;
  /** Override IFD0's offset or entry count (hostile ones). */
  ifd0Offset?: number;
  ifd0Count?: number;
}

const LATITUDE = [51, 1, 30, 1, 2600, 100]; // 51° 30' 26.00"

function tiff(options: TiffOptions = {}): Buffer {
  const le = (options.order ?? 'II') === 'II';
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (le) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    return b;
  };
  const entry = (tag: number, type: number, count: number, value: Buffer) => Buffer.concat([u16(tag), u16(type), u32(count), value]);
  const inlineShort = (v: number) => Buffer.concat([u16(v), Buffer.alloc(2)]);
  const entries: [number, (offsets: { make: number; gps: number }) => Buffer][] = [
    [0x010f, (o) => entry(0x010f, 2, 6, u32(o.make))], // Make, out of line
  ];
  if (options.orientation !== undefined) entries.push([0x0112, () => entry(0x0112, 3, 1, inlineShort(options.orientation!))]);
  if (options.gps) entries.push([0x8825, (o) => entry(0x8825, 4, 1, u32(options.gpsOffset ?? o.gps))]);
  const ifd0 = options.ifd0Offset ?? 8;
  const ifd0Bytes = 2 + entries.length * 12 + 4;
  const make = 8 + ifd0Bytes;
  const gps = make + 6;
  const gpsIfdBytes = 2 + 2 * 12 + 4;
  const latitude = gps + gpsIfdBytes;
  const body = [
    Buffer.from(le ? 'II' : 'MM', 'latin1'),
    u16(42),
    u32(ifd0),
    u16(options.ifd0Count ?? entries.length),
    ...entries.map(([, build]) => build({ make, gps })),
    u32(0),
    Buffer.from('Phone\0', 'latin1'),
  ];
  if (options.gps) {
    body.push(
      u16(2),
      entry(0x0001, 2, 2, Buffer.from('N\0\0\0', 'latin1')), // GPSLatitudeRef, inline
      entry(0x0002, 5, 3, u32(latitude)), // GPSLatitude, three rationals out of line
      u32(0),
      Buffer.concat(LATITUDE.map(u32)),
    );
  }
  return Buffer.concat(body);
}

function exifPayload(options: TiffOptions = {}): Buffer {
  return Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff(options)]);
}

function photoWith(...segments: Uint8Array[]): Buffer {
  return Buffer.from(withJpegSegments(jpeg(16, 16), ...segments));
}

function app1(payload: Uint8Array): Uint8Array {
  return jpegSegment(JPEG_MARKER.APP1, payload);
}

/** The filter fed `chunkSize` bytes at a time: its output joined, and whether it removed a location. */
function filterInChunks(bytes: Uint8Array, chunkSize: number, options: JpegFilterOptions): { bytes: Buffer; locationRemoved: boolean } {
  const filter = new JpegMetadataFilter(options);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) out.push(...filter.push(Buffer.from(bytes.subarray(at, at + chunkSize))));
  out.push(...filter.end());
  return { bytes: Buffer.concat(out), locationRemoved: filter.locationRemoved };
}

const CHUNK_SIZES = [1, 2, 3, 5, 7, 64, 1000, 1 << 20];

/** Every chunking gives the one-shot answer. */
function filterEveryWay(bytes: Uint8Array, options: JpegFilterOptions = LOCATION): { bytes: Buffer; locationRemoved: boolean } {
  const once = filterJpegBuffer(Buffer.from(bytes), options);
  for (const size of CHUNK_SIZES) {
    const chunked = filterInChunks(bytes, size, options);
    expect(chunked.bytes.equals(once.bytes), `chunks of ${size}`).toBe(true);
    expect(chunked.locationRemoved, `chunks of ${size}`).toBe(once.locationRemoved);
  }
  return once;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;
}

// ---------------------------------------------------------------------------------------------------------------

describe('removing the location', () => {
  it.each(['II', 'MM'] as const)('takes GPS out of %s EXIF: the entry, the GPS IFD and its values; the rest stays', (order) => {
    const photo = photoWith(app1(exifPayload({ order, orientation: 6, gps: true })));
    expect(readPhotoExif(photo)).toEqual({ orientation: 6, gps: true });
    const latitude = tiff({ order, gps: true }).subarray(-24);
    expect(contains(photo, latitude)).toBe(true);

    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(locationRemoved).toBe(true);
    expect(readPhotoExif(bytes)).toEqual({ orientation: 6, gps: false });
    expect(contains(bytes, latitude)).toBe(false);
    expect(contains(bytes, asciiBytes('Phone\0'))).toBe(true);
    expect(bytes.length).toBe(photo.length); // offsets unchanged: nothing moved
  });

  it('removes the orientation too when asked (a re-encoded, upright photo)', () => {
    const photo = photoWith(app1(exifPayload({ orientation: 6, gps: true })));
    const { bytes } = filterEveryWay(photo, { ...LOCATION, dropOrientation: true });
    expect(readPhotoExif(bytes)).toEqual({ orientation: null, gps: false });
    expect(contains(bytes, asciiBytes('Phone\0'))).toBe(true);
  });

  it('leaves a JPEG without GPS exactly as it was', () => {
    const photo = photoWith(app1(exifPayload({ orientation: 3 })), iccSegment(100), commentSegment(10));
    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(locationRemoved).toBe(false);
    expect(bytes.equals(photo)).toBe(true);
  });

  it('drops an XMP packet that names a position, and keeps one that does not', () => {
    const xmp = (body: string) => app1(asciiBytes(`http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>${body}</x:xmpmeta>`));
    const located = photoWith(xmp('<exif:GPSLatitude>51,30.4N</exif:GPSLatitude>'));
    const result = filterEveryWay(located);
    expect(result.locationRemoved).toBe(true);
    expect(contains(result.bytes, asciiBytes('GPSLatitude'))).toBe(false);
    const plain = photoWith(xmp('<dc:title>Site visit</dc:title>'));
    expect(filterEveryWay(plain).bytes.equals(plain)).toBe(true);
  });

  it('never looks past the first scan: EXIF-like bytes in the image data go through', () => {
    const lookalike = app1(exifPayload({ gps: true }));
    const photo = Buffer.concat([photoWith(), Buffer.from(lookalike), Buffer.from([0xff, 0xd9])]);
    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(locationRemoved).toBe(false);
    expect(bytes.equals(photo)).toBe(true);
  });

  it('passes fill bytes and standalone markers before the segments', () => {
    const exif = app1(exifPayload({ gps: true }));
    const base = jpeg(16, 16);
    const photo = concatBytes(base.subarray(0, 2), Uint8Array.of(0xff, 0xff, 0xff), Uint8Array.of(0xff, 0xd0), exif, base.subarray(2));
    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(locationRemoved).toBe(true);
    expect(bytes.subarray(0, 7).equals(Buffer.from(photo.subarray(0, 7)))).toBe(true);
    expect(readPhotoExif(bytes).gps).toBe(false);
  });

  it('leaves anything that is not a JPEG alone', () => {
    const file = png(8, 8);
    expect(filterEveryWay(file).bytes.equals(Buffer.from(file))).toBe(true);
  });
});

describe('PHOTO_STRIP_METADATA', () => {
  it('drops EXIF, XMP, IPTC and comments; keeps JFIF and the ICC profile', () => {
    const iptc = jpegSegment(0xed, asciiBytes('Photoshop 3.0\0 8BIM caption'));
    const xmp = app1(asciiBytes('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>'));
    const icc = iccSegment(64);
    const photo = photoWith(app1(exifPayload({ orientation: 6, gps: true })), xmp, iptc, commentSegment(20), icc);
    const { bytes, locationRemoved } = filterEveryWay(photo, EVERYTHING);
    expect(locationRemoved).toBe(true);
    expect(bytes.equals(Buffer.concat([photo.subarray(0, 2), Buffer.from(icc), photoWith().subarray(2)]))).toBe(true);
  });
});

describe('hostile input: never a throw, the same answer however it is chunked, the image data untouched', () => {
  const withGps = () => photoWith(app1(exifPayload({ gps: true })));

  it('a file that ends inside the EXIF segment goes on as it came', () => {
    const photo = withGps();
    const cut = photo.subarray(0, 40);
    expect(filterEveryWay(cut).bytes.equals(cut)).toBe(true);
  });

  it('a segment length past the end of the file: held, then handed on as it came', () => {
    const photo = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff]), Buffer.from('Exif\0\0II*\0', 'latin1')]);
    expect(filterEveryWay(photo).bytes.equals(photo)).toBe(true);
  });

  it('a segment length under 2 stops the walk; the rest passes', () => {
    const photo = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x01]), Buffer.from(app1(exifPayload({ gps: true })))]);
    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(bytes.equals(photo)).toBe(true);
    expect(locationRemoved).toBe(false);
  });

  it('an APP1 that is not EXIF or XMP is left alone', () => {
    const photo = photoWith(app1(asciiBytes('FUJIFILM\0 GPS 8825 II*')));
    expect(filterEveryWay(photo).bytes.equals(photo)).toBe(true);
  });

  it.each([
    ['a byte order that is neither II nor MM', (p: Buffer) => p.write('XX', 6, 'latin1')],
    ['a TIFF magic that is not 42', (p: Buffer) => p.writeUInt16LE(43, 8)],
    ['IFD0 past the end', (p: Buffer) => p.writeUInt32LE(0xfffffff0, 10)],
    ['IFD0 inside the TIFF header', (p: Buffer) => p.writeUInt32LE(2, 10)],
    ['IFD0 with more entries than the segment holds', (p: Buffer) => p.writeUInt16LE(0xffff, 14)],
  ])('%s: the EXIF is left as it is', (_name, corrupt) => {
    const payload = exifPayload({ gps: true });
    corrupt(payload);
    const photo = photoWith(app1(payload));
    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(bytes.equals(photo)).toBe(true);
    expect(locationRemoved).toBe(false);
  });

  it('a GPS IFD offset past the end: the pointer goes, nothing else is touched', () => {
    const photo = photoWith(app1(exifPayload({ gps: true, gpsOffset: 0x7fffffff })));
    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(locationRemoved).toBe(true);
    expect(readPhotoExif(bytes).gps).toBe(false);
    expect(contains(bytes, asciiBytes('Phone\0'))).toBe(true);
  });

  it('a GPS IFD that is IFD0 itself (a loop): IFD0 is not zeroed, its other entries survive', () => {
    const photo = photoWith(app1(exifPayload({ gps: true, orientation: 8, gpsOffset: 8 })));
    const { bytes, locationRemoved } = filterEveryWay(photo);
    expect(locationRemoved).toBe(true);
    expect(readPhotoExif(bytes)).toEqual({ orientation: 8, gps: false });
    expect(contains(bytes, asciiBytes('Phone\0'))).toBe(true);
  });

  it('a GPS IFD pointing at the TIFF header: the header survives', () => {
    const payload = exifPayload({ gps: true, orientation: 3, gpsOffset: 0 });
    const removed = removeExifTags(payload, { gps: true, orientation: false });
    expect(removed.gps).toBe(true);
    expect(payload.subarray(0, 14).toString('latin1')).toBe('Exif\0\0II*\0\b\0\0\0');
    expect(exifHasGps(payload)).toBe(false);
  });

  it('GPS values whose offsets or counts run past the end are not followed', () => {
    const payload = exifPayload({ gps: true });
    const gpsIfd = payload.indexOf(Buffer.from([0x02, 0x00, 0x01, 0x00, 0x02, 0x00]));
    payload.writeUInt32LE(0xffffffff, gpsIfd + 2 + 12 + 4); // GPSLatitude's count
    expect(() => removeExifTags(payload, { gps: true, orientation: true })).not.toThrow();
    expect(exifHasGps(payload)).toBe(false);
  });

  it('random damage anywhere: no throw, the same answer however the bytes are chunked, the length kept or shortened only by dropped segments', () => {
    const photo = photoWith(app1(exifPayload({ gps: true, orientation: 6 })), iccSegment(40));
    let seed = 15;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 300; round++) {
      const damaged = Buffer.from(photo);
      for (let hits = 1 + Math.floor(random() * 4); hits > 0; hits--) damaged[Math.floor(random() * 200)] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? damaged.subarray(0, Math.floor(random() * damaged.length)) : damaged;
      const result = filterEveryWay(cut, random() < 0.5 ? LOCATION : { ...EVERYTHING, dropOrientation: true });
      expect(result.bytes.length).toBeLessThanOrEqual(cut.length);
    }
  });

  it('holds at most one segment: a 64 KiB EXIF block fed a byte at a time costs no more than fed at once', () => {
    const big = exifPayload({ gps: true });
    const padded = Buffer.concat([big, Buffer.alloc(65_000 - big.length)]);
    const photo = photoWith(app1(padded));
    const started = performance.now();
    const { bytes, locationRemoved } = filterInChunks(photo, 1, LOCATION);
    expect(locationRemoved).toBe(true);
    expect(bytes.length).toBe(photo.length);
    // Joining pending chunks once per decision, not once per byte: linear, well under a second.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
