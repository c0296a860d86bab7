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
      resized: t.exposeBoolean('resized', {
        description: "true when the gateway scaled the photo down to fit the CRM's limits; width, height and byteSize describe what the CRM received.",
      }),
      originalWidth: t.exposeInt('originalWidth'),
      originalHeight: t.exposeInt('originalHeight'),
      locationRemoved: t.exposeBoolean('locationRemoved', {
        description: 'true when GPS position data was removed before the photo reached the CRM.',
      }),
    }),
  });
}
