// Placeholder signature; the implementation lands with its tests.
export type ImageFormat = 'PNG' | 'JPEG' | 'GIF' | 'BMP';
export type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/bmp';

export interface ImageInfo {
  format: ImageFormat;
  mimeType: ImageMimeType;
  width: number;
  height: number;
}

export type SniffResult =
  | { status: 'image'; image: ImageInfo }
  | { status: 'need-more' }
  | { status: 'unsupported'; reason: string };

export interface SniffOptions {
  /** true when `head` holds every byte there will be (the stream ended or the look-ahead is exhausted). */
  complete: boolean;
}

export function sniffImage(_head: Uint8Array, _options: SniffOptions): SniffResult {
  throw new Error('not implemented');
}
