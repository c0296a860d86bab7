/** One download through `GET /photos/{module}/{recordId}`, once it has ended: what the logs say about it. */
export interface DownloadReport {
  requestId: string | undefined;
  /** As the URL named them; null when the URL names no photo. */
  moduleApiName: string | null;
  recordId: string | null;
  /**
   * `downloaded` when the client got the whole photo; else the refusal's code (`NO_PHOTO`, `INVALID_TOKEN`,
   * `CRM_TIMEOUT`, …), or why a started download was cut: `DOWNLOAD_TIMEOUT` (the client read nothing for the idle
   * timeout, or below the rate floor, or past the ceiling), `CRM_CONNECTION_LOST` (the CRM's answer broke off),
   * `CLIENT_GONE` (the client left).
   */
  outcome: string;
  /** The HTTP status the client was sent; 499 when it left before any. */
  httpStatus: number;
  /** Photo bytes handed to the client's connection. */
  bytesSent: number;
  /** The CRM's HTTP status, when it answered. */
  crmStatus: number | null;
  /** The CRM failed (5xx, timeout, unreachable, an answer that broke off): worth a warning. */
  crmFailed: boolean;
  totalMs: number;
}

export interface DownloadObserver {
  downloadEnded(report: DownloadReport): void;
}
