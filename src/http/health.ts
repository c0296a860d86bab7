import type { Plugin } from 'graphql-yoga';

/** `sharedBudget` (REDIS_URL only): whether the CRM budget is shared through Redis or this replica's own, and why. */
export type ReadyState = ({ ready: true } | { ready: false; reason: string }) & { sharedBudget?: string };

export interface Readiness {
  /** true while the gateway accepts work; `reason` says why not. */
  check(): Promise<ReadyState>;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });

/**
 * Probes for an orchestrator, answered before any other check (no API key, no CSRF header needed):
 * `/health/live` — the process serves; `/health/ready` — it accepts work (503 while draining, or while
 * service mode has no CRM token). Yoga's own `/health` stays as it was. With REDIS_URL the body also says whether the
 * CRM budget is shared (`sharedBudget`); a replica whose Redis is away still answers 200: it serves on its own limit.
 */
export function useHealthProbes(readiness: Readiness): Plugin {
  return {
    // Not async: every request passes through here, and only a readiness probe has anything to wait for.
    onRequest({ request, url, endResponse }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname === '/health/live') return endResponse(json(200, { status: 'live' }));
      if (url.pathname !== '/health/ready') return;
      return readiness.check().then((state) => {
        const budget = state.sharedBudget === undefined ? {} : { sharedBudget: state.sharedBudget };
        endResponse(state.ready ? json(200, { status: 'ready', ...budget }) : json(503, { status: 'not ready', reason: state.reason, ...budget }));
      });
    },
  };
}
