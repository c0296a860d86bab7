const MAX_FILENAME_BYTES = 255;

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
};

/**
 * The client's file name, safe to show and to send on: no directories, no control or invisible
 * format characters (they can forge headers or disguise extensions), at most 255 UTF-8 bytes.
 */
export function cleanFilename(raw: string | null | undefined, mimeType: string): string {
  const fallback = `photo.${EXTENSIONS[mimeType] ?? 'img'}`;
  if (!raw) return fallback;
  const base = raw.split(/[/\\]/).pop() ?? '';
  const name = base
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .trim();
  if (/^\.*$/.test(name)) return fallback;
  return truncateUtf8(name, MAX_FILENAME_BYTES);
}

/** The longest prefix of whole characters that fits in `maxBytes` of UTF-8, in one pass. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const character of text) {
    bytes += Buffer.byteLength(character, 'utf8');
    if (bytes > maxBytes) break;
    end += character.length;
  }
  return text.slice(0, end);
}
