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
  let name = base
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .trim();
  if (/^\.*$/.test(name)) return fallback;
  while (Buffer.byteLength(name, 'utf8') > MAX_FILENAME_BYTES) {
    name = Array.from(name).slice(0, -1).join('');
  }
  return name;
}
