import { IMAGE_FORMATS } from '../photos/image-sniffer.ts';
import type { UploadedPhoto } from '../photos/upload-record-photo.ts';
import type { Builder } from './builder.ts';

export function addUploadedPhoto(builder: Builder) {
  const ImageFormat = builder.enumType('ImageFormat', { values: IMAGE_FORMATS });

  return builder.objectRef<UploadedPhoto>('UploadedPhoto').implement({
    fields: (t) => ({
      filename: t.exposeString('filename', {
        description: "The client's file name, cleaned of path parts and control characters.",
      }),
      contentType: t.exposeString('contentType', {
        description: 'Sniffed from the bytes, never taken from the client: image/png, image/jpeg, image/gif, image/bmp.',
      }),
      format: t.expose('format', { type: ImageFormat }),
      byteSize: t.exposeInt('byteSize'),
      width: t.exposeInt('width'),
      height: t.exposeInt('height'),
    }),
  });
}
