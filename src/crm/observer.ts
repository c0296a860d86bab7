/**
 * What the CRM client tells whoever watches it (logs, metrics, traces). It knows nothing of them: each hook is
 * optional and called synchronously at the moment it describes.
 */
export interface CrmCallEnded {
  /** What was asked of the CRM, e.g. `upload-photo`. */
  operation: string;
  /** The CRM's HTTP status; null when no answer came (timeout, refused or lost connection, cancelled). */
  status: number | null;
  durationMs: number;
}

export interface CrmObserver {
  crmCallEnded?(call: CrmCallEnded): void;
  /** A caller got a CRM slot (`granted`) or gave up waiting for one, after `waitMs`. */
  slotWaitEnded?(waitMs: number, granted: boolean): void;
  /** Service mode: the accounts server minted a token, or refused or failed to. */
  tokenRefreshEnded?(result: 'success' | 'failure'): void;
  /** REDIS_URL: the budget (and token) became shared through Redis, or this replica fell back to its own limit; `detail` holds no URL. */
  sharedBudgetChanged?(change: { shared: boolean; detail: string; localMax: number }): void;
}

/** How long an upload waited for a CRM slot, and how long the CRM then took (null: it never reached the CRM). */
export interface CrmTimings {
  queuedMs: number;
  crmMs: number | null;
}
