/**
 * Just enough of EXIF (a TIFF structure inside a JPEG's APP1 segment) to take a photo's location out, and its
 * orientation once the pixels are upright. Edits are in place and keep every offset valid: nothing moves except
 * the entries of IFD0 after a removed one, and offsets are counted from the TIFF header, never from an entry.
 * Never throws: a structure it cannot follow is left as it is (and reported as holding nothing it could remove).
 */

/** The APP1 payload of an EXIF segment starts with this, then the TIFF header. */
const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');
const TIFF_HEADER_BYTES = 8;
const ENTRY_BYTES = 12;

const TAG_ORIENTATION = 0x0112;
const TAG_GPS_IFD = 0x8825;

/** Bytes per value of each TIFF field type (1 BYTE … 13 IFD); others are unknown and never followed. */
const TYPE_BYTES: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };

export function isExifPayload(payload: Uint8Array): boolean {
  return payload.length >= EXIF_HEADER.length && EXIF_HEADER.equals(payload.subarray(0, EXIF_HEADER.length));
}

export interface ExifRemoval {
  /** IFD0's GPSInfo entry, with the GPS IFD and its values zeroed. */
  gps: boolean;
  /** IFD0's Orientation entry. */
  orientation: boolean;
}

interface Tiff {
  view: Buffer;
  u16(offset: number): number;
  u32(offset: number): number;
  w16(offset: number, value: number): void;
  /** Where IFD0 starts, its entry count, and where its block (count, entries, next-IFD offset if present) ends. */
  ifd0: number;
  count: number;
  ifd0End: number;
}

/** The TIFF structure of an EXIF payload, or undefined when there is none to follow. */
function openTiff(payload: Buffer): Tiff | undefined {
  if (!isExifPayload(payload)) return undefined;
  const view = payload.subarray(EXIF_HEADER.length);
  if (view.length < TIFF_HEADER_BYTES) return undefined;
  const order = view.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  const u16 = (offset: number) => (le ? view.readUInt16LE(offset) : view.readUInt16BE(offset));
  const u32 = (offset: number) => (le ? view.readUInt32LE(offset) : view.readUInt32BE(offset));
  const w16 = (offset: number, value: number) => (le ? view.writeUInt16LE(value, offset) : view.writeUInt16BE(value, offset));
  if (u16(2) !== 42) return undefined;
  const ifd0 = u32(4);
  if (ifd0 < TIFF_HEADER_BYTES || ifd0 + 2 > view.length) return undefined;
  const count = u16(ifd0);
  const entriesEnd = ifd0 + 2 + count * ENTRY_BYTES;
  if (entriesEnd > view.length) return undefined;
  // The next-IFD offset follows the entries; a truncated segment may lack it.
  const ifd0End = Math.min(view.length, entriesEnd + 4);
  return { view, u16, u32, w16, ifd0, count, ifd0End };
}

function entryAt(tiff: Tiff, index: number): number {
  return tiff.ifd0 + 2 + index * ENTRY_BYTES;
}

function findEntry(tiff: Tiff, tag: number): number | undefined {
  for (let i = 0; i < tiff.count; i++) if (tiff.u16(entryAt(tiff, i)) === tag) return i;
  return undefined;
}

/** true when IFD0 of this EXIF payload points to GPS data. */
export function exifHasGps(payload: Buffer): boolean {
  const tiff = openTiff(payload);
  return tiff !== undefined && findEntry(tiff, TAG_GPS_IFD) !== undefined;
}

/**
 * Removes, in place, IFD0's GPSInfo entry (and zeroes the GPS IFD and the values it points to, so no reader finds
 * the position by scanning) and, when asked, its Orientation entry. Says what it removed.
 */
export function removeExifTags(payload: Buffer, remove: { gps: boolean; orientation: boolean }): ExifRemoval {
  const removed: ExifRemoval = { gps: false, orientation: false };
  const tiff = openTiff(payload);
  if (!tiff) return removed;
  const gpsIndex = remove.gps ? findEntry(tiff, TAG_GPS_IFD) : undefined;
  const orientationIndex = remove.orientation ? findEntry(tiff, TAG_ORIENTATION) : undefined;
  // Found before IFD0 changes: the GPS IFD's offset is in its entry.
  const gpsRegions = gpsIndex === undefined ? [] : gpsDataRegions(tiff, tiff.u32(entryAt(tiff, gpsIndex) + 8));
  // Highest index first, so the lower one has not moved when its turn comes.
  const doomed = [gpsIndex, orientationIndex].filter((i): i is number => i !== undefined).sort((a, b) => b - a);
  for (const index of doomed) removeEntry(tiff, index);
  for (const [start, end] of gpsRegions) zeroOutside(tiff, start, end);
  removed.gps = gpsIndex !== undefined;
  removed.orientation = orientationIndex !== undefined;
  return removed;
}

/** Drops IFD0's entry at `index`: the later entries and the next-IFD offset move up; the freed bytes at the end are zeroed. */
function removeEntry(tiff: Tiff, index: number): void {
  const start = entryAt(tiff, index);
  tiff.view.copyWithin(start, start + ENTRY_BYTES, tiff.ifd0End);
  tiff.view.fill(0, tiff.ifd0End - ENTRY_BYTES, tiff.ifd0End);
  tiff.count -= 1;
  tiff.ifd0End -= ENTRY_BYTES;
  tiff.w16(tiff.ifd0, tiff.count);
}

/** The GPS IFD's own block and each value stored outside it, each within the payload; none when it points nowhere. */
function gpsDataRegions(tiff: Tiff, gpsIfd: number): [number, number][] {
  const { view } = tiff;
  if (gpsIfd < TIFF_HEADER_BYTES || gpsIfd + 2 > view.length) return [];
  // A "GPS IFD" inside IFD0 is IFD0 (a loop): its entries are not GPS data, and their values are not to be zeroed.
  if (gpsIfd >= tiff.ifd0 && gpsIfd < tiff.ifd0End) return [];
  const count = tiff.u16(gpsIfd);
  const regions: [number, number][] = [];
  // Entries past the end of the payload are not there to zero (nor to follow).
  const entries = Math.min(count, Math.floor((view.length - gpsIfd - 2) / ENTRY_BYTES));
  for (let i = 0; i < entries; i++) {
    const entry = gpsIfd + 2 + i * ENTRY_BYTES;
    const typeBytes = TYPE_BYTES[tiff.u16(entry + 2)];
    if (typeBytes === undefined) continue;
    const bytes = typeBytes * tiff.u32(entry + 4);
    if (bytes <= 4) continue; // stored in the entry itself
    const offset = tiff.u32(entry + 8);
    if (offset >= TIFF_HEADER_BYTES && offset + bytes <= view.length) regions.push([offset, offset + bytes]);
  }
  regions.push([gpsIfd, Math.min(view.length, gpsIfd + 2 + count * ENTRY_BYTES + 4)]);
  return regions;
}

/** Zeroes [start, end) except where it overlaps the TIFF header or IFD0 (a hostile offset must not break the rest). */
function zeroOutside(tiff: Tiff, start: number, end: number): void {
  const keep: [number, number][] = [
    [0, TIFF_HEADER_BYTES],
    [tiff.ifd0, tiff.ifd0End],
  ];
  let from = start;
  for (const [keepStart, keepEnd] of keep.sort((a, b) => a[0] - b[0])) {
    if (keepEnd <= from || keepStart >= end) continue;
    if (keepStart > from) tiff.view.fill(0, from, keepStart);
    from = Math.max(from, keepEnd);
  }
  if (from < end) tiff.view.fill(0, from, end);
}
