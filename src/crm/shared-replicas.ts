import type { GatewayConfig } from '../config.ts';
import type { CrmObserver } from './observer.ts';
import { SharedCrmBudget } from './shared-budget.ts';
import { organisationTag, SharedState } from './shared-state.ts';
import { SharedTokenStore } from './shared-token.ts';

/** What replicas share through Redis (REDIS_URL): the connection, the CRM budget (and its 429 pauses), the service token. */
export interface SharedReplicas {
  state: SharedState;
  budget: SharedCrmBudget;
  tokens: SharedTokenStore;
}

/**
 * Builds the shared pieces for a gateway with REDIS_URL; loaded only then (server.ts imports it on demand), so a
 * gateway without Redis loads neither ioredis nor redis-semaphore. Nothing connects until `state.connect()`.
 */
export function sharedReplicas(
  config: GatewayConfig & { redis: NonNullable<GatewayConfig['redis']> },
  crmOrigin: string,
  observer?: CrmObserver,
): SharedReplicas {
  const state = new SharedState({
    url: config.redis.url,
    keyPrefix: config.redis.keyPrefix,
    // Two organisations (CRM origin, OAuth client) never share keys, even under one REDIS_KEY_PREFIX.
    organisation: organisationTag(crmOrigin, config.serviceCredentials?.clientId ?? null),
    timeoutMs: config.crm.connectTimeoutMs,
  });
  const budget = new SharedCrmBudget(state, {
    max: config.crm.maxConcurrency,
    maxQueue: config.crm.maxQueue,
    timeoutMs: config.crm.queueTimeoutMs,
    maxPerCaller: config.crm.maxConcurrencyPerCaller,
    replicas: config.crm.replicas,
    leaseMs: config.crm.slotLeaseMs,
    // Service mode: one organisation, one token, so the CRM's 429 holds every replica back. Pass-through: each caller's
    // own organisation, all under one key tag: a 429 pauses nothing, as without Redis.
    sharePause: config.serviceCredentials !== null,
  });
  state.onChange((shared, detail) => observer?.sharedBudgetChanged?.({ shared, detail, localMax: budget.localMax }));
  // A refresh holds the mutex for at most the accounts server's connect and answer timeouts.
  const tokens = new SharedTokenStore(state, { refreshMs: config.crm.connectTimeoutMs + config.crm.responseTimeoutMs });
  return { state, budget, tokens };
}
