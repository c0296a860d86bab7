/** The CRM's documented ceilings for a record photo, enforced by the gateway before the CRM sees the file. */
export const MAX_PHOTO_BYTES = 10 * 1024 * 1024; // 10 MiB = 10,485,760 bytes
export const MAX_PHOTO_PIXELS = 10_000_000; // 10 MP

/**
 * How many leading bytes of an upload the gateway holds to find the image header.
 * A JPEG's frame header can sit behind EXIF, XMP and ICC segments (each up to 64 KiB).
 */
export const SNIFF_LOOKAHEAD_BYTES = 256 * 1024;
