import { exifHasGps, isExifPayload, removeExifTags } from './exif.ts';

/**
 * Takes location (and, when asked, all other metadata) out of a JPEG as it streams past, without decoding it.
 *
 * It walks the marker segments before the first scan (SOS): segments it may change (APP1 for EXIF and XMP; APP13
 * and COM when stripping all metadata) are held whole — a segment is at most 65,537 bytes — and rewritten or
 * dropped; every other segment passes as it comes, unread. From the first SOS on (or at anything that is not a
 * well-formed segment) it hands every byte on untouched. So memory stays one segment, whatever the file's size,
 * and a file it cannot follow reaches the CRM exactly as sent, to be judged there.
 */
export interface JpegFilterOptions {
  /** Remove EXIF GPS data (and XMP that names a GPS position). */
  stripLocation: boolean;
  /** Drop EXIF, XMP, IPTC (APP13) and comments altogether; ICC profiles and the JFIF/Adobe segments stay (they decide colours). */
  stripMetadata: boolean;
  /** Remove EXIF's Orientation entry: for a photo whose pixels are already upright. */
  dropOrientation?: boolean;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const APP1 = 0xe1;
const APP13 = 0xed;
const COM = 0xfe;
const XMP_HEADER = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');
/** XMP properties that carry a position (exif:GPSLatitude, exif:GPSLongitude, …). */
const XMP_LOCATION = /GPS(Latitude|Longitude|Altitude|DestLatitude|DestLongitude)/;

const EMPTY = Buffer.alloc(0);

/** Incremental: `push` each chunk and pass on what it returns, then pass on what `end` returns. */
export class JpegMetadataFilter {
  readonly #options: JpegFilterOptions;
  #state: 'start' | 'segments' | 'pass' = 'start';
  /** Bytes not handed on yet: never more than one held segment plus the chunk that completed it. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes of the current unread segment still to hand on as they come. */
  #skip = 0;
  /** Bytes a held segment needs before anything can be decided: no joining of chunks until they are in. */
  #need = 0;
  #locationRemoved = false;

  constructor(options: JpegFilterOptions) {
    this.#options = options;
  }

  /** true once GPS data (EXIF or XMP) was found and left out. */
  get locationRemoved(): boolean {
    return this.#locationRemoved;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.#state === 'pass' && this.#pendingBytes === 0) return [chunk];
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < this.#need) return [];
    this.#need = 0;
    const out: Buffer[] = [];
    this.#advance(out);
    return out;
  }

  end(): Buffer[] {
    // A file that ends inside a segment goes on as it came: the CRM will judge it, as it would have.
    const rest = this.#take(this.#pendingBytes);
    return rest.length > 0 ? [rest] : [];
  }

  #advance(out: Buffer[]): void {
    for (;;) {
      if (this.#skip > 0) {
        const passed = this.#take(Math.min(this.#skip, this.#pendingBytes));
        if (passed.length > 0) out.push(passed);
        this.#skip -= passed.length;
        if (this.#skip > 0) return;
        continue;
      }
      if (this.#state === 'pass') {
        if (this.#pendingBytes > 0) out.push(this.#take(this.#pendingBytes));
        return;
      }
      if (this.#pendingBytes < (this.#state === 'start' ? 2 : 4)) {
        // Two bytes may be all of a standalone marker; fill bytes may run on: look at what is there.
        if (this.#state === 'start' || this.#pendingBytes < 2) return;
      }
      const head = this.#flatten();
      if (this.#state === 'start') {
        if (head[0] !== 0xff || head[1] !== SOI) return this.#passRest();
        out.push(this.#take(2));
        this.#state = 'segments';
        continue;
      }
      if (head[0] !== 0xff) return this.#passRest();
      // Fill bytes (any number of 0xFF before a marker code) go on as they are; keep the last one with its code.
      let fill = 0;
      while (fill < head.length && head[fill] === 0xff) fill++;
      if (fill > 1) {
        out.push(this.#take(fill - 1));
        continue;
      }
      if (head.length < 2) return;
      const marker = head[1]!;
      if (marker === TEM || (marker >= 0xd0 && marker <= 0xd7)) {
        out.push(this.#take(2));
        continue;
      }
      // The first scan, the end, or something that is no segment: nothing more to look at.
      if (marker === SOS || marker === EOI || marker === SOI || marker === 0x00) return this.#passRest();
      if (head.length < 4) return;
      const length = head.readUInt16BE(2);
      if (length < 2) return this.#passRest();
      if (!this.#mayChange(marker)) {
        out.push(this.#take(4));
        this.#skip = length - 2;
        continue;
      }
      if (this.#pendingBytes < 2 + length) {
        this.#need = 2 + length; // held until whole
        return;
      }
      const segment = this.#take(2 + length);
      const kept = this.#rewrite(marker, segment);
      if (kept) out.push(kept);
    }
  }

  #passRest(): void {
    this.#state = 'pass';
  }

  #mayChange(marker: number): boolean {
    const { stripLocation, stripMetadata, dropOrientation } = this.#options;
    if (marker === APP1) return stripLocation || stripMetadata || dropOrientation === true;
    return stripMetadata && (marker === APP13 || marker === COM);
  }

  /** The segment to hand on in place of `segment` (marker, length, payload), or null to drop it. */
  #rewrite(marker: number, segment: Buffer): Buffer | null {
    const { stripLocation, stripMetadata, dropOrientation } = this.#options;
    const payload = segment.subarray(4);
    if (marker !== APP1) return null; // APP13 and COM are only held when stripping all metadata
    if (isExifPayload(payload)) {
      if (stripMetadata) {
        if (exifHasGps(payload)) this.#locationRemoved = true;
        return null;
      }
      // A copy: the chunk it came in may be someone else's buffer.
      const copy = Buffer.from(segment);
      const removed = removeExifTags(copy.subarray(4), { gps: stripLocation, orientation: dropOrientation === true });
      if (removed.gps) this.#locationRemoved = true;
      return copy;
    }
    if (payload.subarray(0, XMP_HEADER.length).equals(XMP_HEADER)) {
      const located = XMP_LOCATION.test(payload.toString('latin1', XMP_HEADER.length));
      if (located && (stripLocation || stripMetadata)) this.#locationRemoved = true;
      return stripMetadata || (stripLocation && located) ? null : segment;
    }
    return stripMetadata ? null : segment;
  }

  /** All pending bytes as one buffer (joined only when more than one chunk is pending). */
  #flatten(): Buffer {
    if (this.#pending.length > 1) this.#pending = [Buffer.concat(this.#pending, this.#pendingBytes)];
    return this.#pending[0] ?? EMPTY;
  }

  /** Removes and returns the first `bytes` pending bytes. */
  #take(bytes: number): Buffer {
    if (bytes === 0) return EMPTY;
    const first = this.#pending[0]!;
    let taken: Buffer;
    if (first.length >= bytes) {
      taken = first.subarray(0, bytes);
      if (first.length === bytes) this.#pending.shift();
      else this.#pending[0] = first.subarray(bytes);
    } else {
      const all = this.#flatten();
      taken = all.subarray(0, bytes);
      this.#pending = bytes === all.length ? [] : [all.subarray(bytes)];
    }
    this.#pendingBytes -= bytes;
    return taken;
  }
}

/** The filter over a whole JPEG in memory (a re-encoded photo). */
export function filterJpegBuffer(bytes: Buffer, options: JpegFilterOptions): { bytes: Buffer; locationRemoved: boolean } {
  const filter = new JpegMetadataFilter(options);
  const parts = [...filter.push(bytes), ...filter.end()];
  return { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts), locationRemoved: filter.locationRemoved };
}
