/** The CRM's documented ceilings for a record photo, enforced by the gateway before the CRM sees the file. */
export const MAX_PHOTO_BYTES = 10 * 1024 * 1024; // 10 MiB = 10,485,760 bytes
export const MAX_PHOTO_PIXELS = 10_000_000; // 10 MP

/**
 * How many leading bytes of an upload the gateway holds to find the image header.
 * A JPEG's frame header can sit behind EXIF, XMP and ICC segments (each up to 64 KiB).
 */
export const SNIFF_LOOKAHEAD_BYTES = 256 * 1024;

/**
 * How much of an upload must be in hand (or the whole file, if smaller) before its CRM call takes a slot: a client
 * that sends a valid header and then stalls holds none. Read on from the sniffed head, which may already be longer (a
 * JPEG's frame header behind its metadata). Small, since the CRM sees no byte before it is in: at 256 KiB the first
 * byte reached the CRM 1–2 ms later on loopback, and each upload waiting for a slot held 4 times the memory.
 */
export const SLOT_LOOKAHEAD_BYTES = 64 * 1024;
