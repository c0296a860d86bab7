/**
 * Where the gateway serves a record's photo: `GET /photos/{module API name}/{recordId}?v={version}`. The version
 * (the record's Record_Image) is in the URL so that a new photo gets a new URL, and caches can keep the old one.
 */

import type { PhotoLinkSigner } from './photo-links.ts';

/** Which photo: the module's API name, the record's id, and the photo's version (its Record_Image). */
export interface PhotoRef {
  moduleApiName: string;
  recordId: string;
  version: string;
}

/** What building a link needs to know of the deployment. */
export interface PhotoUrlSettings {
  /**
   * PUBLIC_URL: the origin, and optional path prefix, where clients reach this gateway (no trailing slash),
   * e.g. `https://api.example.com/crm`; null: links are path-relative (`/photos/…`).
   */
  publicUrl: string | null;
  /** Service mode with PHOTO_URL_SECRET: links carry `exp` and `sig`, and need no header. Absent or null: unsigned. */
  signer?: PhotoLinkSigner | null;
}

/** The download URL of one photo. */
export function photoUrl({ moduleApiName, recordId, version }: PhotoRef, settings: PhotoUrlSettings): string {
  let path = `/photos/${encodeURIComponent(moduleApiName)}/${encodeURIComponent(recordId)}?v=${encodeURIComponent(version)}`;
  if (settings.signer) {
    const { exp, sig } = settings.signer.sign({ moduleApiName, recordId, version });
    path += `&exp=${exp}&sig=${sig}`;
  }
  return `${settings.publicUrl ?? ''}${path}`;
}
