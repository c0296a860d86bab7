import { Agent, type Dispatcher } from 'undici';
import type { CrmBudget } from './crm-budget.ts';
import type { CrmObserver } from './observer.ts';

/**
 * One keep-alive pool to the CRM origin for every CRM client (uploads, reads, downloads, deletes): connections
 * are reused across kinds of call instead of each client keeping its own. Each request sets its own timeouts.
 */
export function crmPool(options: { connectTimeoutMs: number }): Agent {
  return new Agent({ connect: { timeout: options.connectTimeoutMs } });
}

/** What every CRM client is built with: where the CRM is, how long it may take, and the slots and pool they share. */
export interface CrmCallOptions {
  apiDomain: string;
  apiVersion: string;
  connectTimeoutMs: number;
  /** The longest the CRM may take to start answering, or go quiet in the middle of its answer. */
  responseTimeoutMs: number;
  /** The gateway's one budget of concurrent CRM calls (its own, or shared by replicas): the same instance every CRM client waits on. */
  limit: CrmBudget;
  /** How long a call may wait for a slot (for the retry hint when it is refused one). */
  queueTimeoutMs: number;
  observer?: CrmObserver;
  /** The keep-alive pool to the CRM origin, shared by every CRM client (see `crmPool`); absent: a pool of its own. */
  pool?: Dispatcher;
}
