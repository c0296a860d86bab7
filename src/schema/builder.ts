import SchemaBuilder from '@pothos/core';
import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import type { FileUpload } from 'graphql-upload-minimal';
import type { RecordPhotoService } from '../photos/upload-record-photo.ts';
import type { PhotoDeleteService } from '../photos/delete-record-photo.ts';
import type { PhotoUrlSettings } from '../photos/photo-url.ts';
import type { RecordLoader } from '../photos/read-record-photos.ts';

/** What every resolver gets: the caller's credentials as sent, and the services that do the work. */
export interface GraphContext {
  callerAuthorization: string | null;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Who is calling, for its share of the CRM slots: a keyed hash of its credential, else its address. */
  caller: () => string;
  /** The request's id, echoed in `x-request-id` and on every log line about it. */
  requestId: string;
  photos: RecordPhotoService;
  /** Removes record photos (deleteRecordPhoto). */
  photoDeletes: PhotoDeleteService;
  /** This request's record reads, batched: one loader per request, as permissions differ from caller to caller. */
  records: RecordLoader;
  /** What building a photo's download URL needs. */
  photoUrls: PhotoUrlSettings;
}

export interface BuilderTypes {
  Context: GraphContext;
  // The contract's fields are non-null unless it says otherwise.
  DefaultFieldNullability: false;
  Scalars: {
    Upload: { Input: Promise<FileUpload>; Output: never };
  };
}

/** A builder per schema, because the CrmModule enum depends on configuration. */
export function createBuilder() {
  return new SchemaBuilder<BuilderTypes>({
    plugins: [DirectivePlugin, FederationPlugin],
    defaultFieldNullability: false,
  });
}

export type Builder = ReturnType<typeof createBuilder>;
