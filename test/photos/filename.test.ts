import { describe, expect, it } from 'vitest';
import { cleanFilename } from '../../src/photos/filename.ts';

describe('cleanFilename', () => {
  it.each([
    ['portrait.png', 'portrait.png'],
    ['C:\\Users\\ann\\Pictures\\me.jpg', 'me.jpg'],
    ['../../etc/passwd.png', 'passwd.png'],
    ['evil\r\nX-Injected: yes.png', 'evilX-Injected: yes.png'],
    ['evil\r\nContent-Type: text/html.png', 'html.png'],
    ['a"b".gif', 'a"b".gif'],
    ['photo\u202Egnp.exe', 'photognp.exe'],
    ['  spaced name.bmp  ', 'spaced name.bmp'],
    ['Ünïcödé 写真.png', 'Ünïcödé 写真.png'],
  ])('%j → %j', (raw, cleaned) => {
    expect(cleanFilename(raw, 'image/png')).toBe(cleaned);
  });

  it.each([null, '', '/', '..', '\u0000\u0001', 'dir/'])('falls back to a name from the format for %j', (raw) => {
    expect(cleanFilename(raw, 'image/jpeg')).toBe('photo.jpg');
  });

  it('keeps at most 255 UTF-8 bytes without splitting a character', () => {
    const cleaned = cleanFilename(`${'写'.repeat(200)}.png`, 'image/png');
    expect(Buffer.byteLength(cleaned, 'utf8')).toBeLessThanOrEqual(255);
    expect(cleaned).toBe('写'.repeat(85));
  });
});

describe('cleanFilename on hostile lengths', () => {
  it('cuts a 16 KiB name to whole characters within 255 bytes', () => {
    const cleaned = cleanFilename(`${'é'.repeat(16_000)}.png`, 'image/png');
    expect(cleaned).toBe('é'.repeat(127));
    expect(Buffer.byteLength(cleaned, 'utf8')).toBe(254);
  });
});
