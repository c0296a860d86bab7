/**
 * The CRM's own reading of a stored JPEG's EXIF: its Orientation tag and whether it says where the photo was taken.
 * Written apart from the gateway's EXIF code (it imports nothing from src/), so a test that reads a stored photo's
 * metadata here checks the gateway's work with a second, independent reader.
 */

export interface PhotoExif {
  /** The Orientation tag's value, or null when the photo has no such tag (or no EXIF). */
  orientation: number | null;
  /** true when EXIF points to GPS data (IFD0's GPSInfo tag), or an XMP packet names a GPS position. */
  gps: boolean;
}

const NONE: PhotoExif = { orientation: null, gps: false };

/** Reads the metadata segments of a JPEG up to its first scan; anything else (or anything unreadable) has none. */
export function readPhotoExif(bytes: Uint8Array): PhotoExif {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) return NONE;
  const found: PhotoExif = { orientation: null, gps: false };
  let at = 2;
  while (at + 4 <= data.length) {
    if (data[at] !== 0xff) break;
    const marker = data[at + 1]!;
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // image data, or the end
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const size = data.readUInt16BE(at + 2);
    const body = data.subarray(at + 4, Math.min(data.length, at + 2 + size));
    if (marker === 0xe1 && body.toString('latin1', 0, 6) === 'Exif\0\0') readTiff(body.subarray(6), found);
    if (marker === 0xe1 && body.toString('latin1', 0, 28) === 'http://ns.adobe.com/xap/1.0/' && /GPS(Latitude|Longitude)/.test(body.toString('latin1'))) {
      found.gps = true;
    }
    at += 2 + size;
  }
  return found;
}

function readTiff(tiff: Buffer, found: PhotoExif): void {
  if (tiff.length < 8) return;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return;
  const short = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const long = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const ifd = long(4);
  if (ifd + 2 > tiff.length) return;
  const entries = short(ifd);
  for (let n = 0; n < entries; n++) {
    const entry = ifd + 2 + 12 * n;
    if (entry + 12 > tiff.length) return;
    const tag = short(entry);
    if (tag === 0x0112) found.orientation = short(entry + 8);
    if (tag === 0x8825) found.gps = true;
  }
}
