import type { CrmErrorCode } from './failures.ts';

/** One upload, once it has ended: what logs and metrics say about it. */
export interface UploadReport {
  requestId: string | undefined;
  moduleApiName: string;
  recordId: string;
  /** The result union's member the caller got (`UploadRecordPhotoSuccess`, `CrmServiceError`, …); null when `error` ended it. */
  outcome: string | null;
  /** The failure's CrmErrorCode; null on success and when `error` ended it. */
  code: CrmErrorCode | null;
  /** The CRM's HTTP status, when it answered. */
  crmStatus: number | null;
  /** File bytes handed to the CRM request. */
  bytesForwarded: number;
  /** Time waiting for a CRM slot; null when the upload never asked for one. */
  queuedMs: number | null;
  /** Time from the CRM request's start to its answer; null when it never started. */
  crmMs: number | null;
  totalMs: number;
  /** Set when the photo was scaled down to fit: from and to what, the wait for a resize turn and the resize itself. */
  resize?: { from: string; to: string; queuedMs: number; ms: number };
  /** Set when GPS data was taken out of what the CRM received. */
  locationRemoved?: true;
  /** Set when the upload ended by a throw: an UploadStreamError (the client's request broke) or a bug. */
  error?: unknown;
}

export interface UploadObserver {
  uploadEnded(report: UploadReport): void;
}
