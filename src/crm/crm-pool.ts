import { Agent } from 'undici';

/**
 * One keep-alive pool to the CRM origin for every CRM client (uploads, reads, downloads, deletes): connections
 * are reused across kinds of call instead of each client keeping its own. Each request sets its own timeouts.
 */
export function crmPool(options: { connectTimeoutMs: number }): Agent {
  return new Agent({ connect: { timeout: options.connectTimeoutMs } });
}
