/**
 * The read cell: `_entities` for 100 CrmRecords (`photo { version url }`) through the gateway, against one Get Records
 * call straight to the sink for the same 100 ids, and the same `_entities` asking only for `id` (no CRM call: the
 * GraphQL request's own cost). Concurrency 1, the paths alternated so all see the same machine load; every answer
 * checked; the sink's count of Get Records calls read around each gateway request.
 */
import { Pool } from 'undici';
import { BENCH_TOKEN } from './bodies.ts';
import type { Server } from './servers.ts';
import type { SinkStats } from './sink.ts';
import { percentile } from './stats.ts';

export interface ReadCellOptions {
  records: number;
  warmup: number;
  requests: number;
}

export interface ReadCellOutcome {
  records: number;
  requests: number;
  gateway: { p50Ms: number; p99Ms: number };
  direct: { p50Ms: number; p99Ms: number };
  /** The same `_entities` asking only for `id`: no CRM call, the GraphQL request's own cost. */
  keysOnly: { p50Ms: number; p99Ms: number };
  /** Get Records calls the sink saw for each gateway request: [fewest, most]. */
  crmCallsPerRequest: [number, number];
}

export const READ_CELL_DEFAULTS: ReadCellOptions = { records: 100, warmup: 30, requests: 300 };

const ENTITIES = 'query Photos($r: [_Any!]!) { _entities(representations: $r) { ... on CrmRecord { id photo { version url } } } }';
const KEYS_ONLY = 'query Keys($r: [_Any!]!) { _entities(representations: $r) { ... on CrmRecord { id } } }';

export async function runReadCell(gateway: Server, sink: Server, options: ReadCellOptions = READ_CELL_DEFAULTS): Promise<ReadCellOutcome> {
  const ids = Array.from({ length: options.records }, (_, i) => String(1_000_000_000_001 + i));
  const variables = { r: ids.map((id) => ({ __typename: 'CrmRecord', module: 'LEADS', id })) };
  const gatewayBody = JSON.stringify({ query: ENTITIES, variables });
  const keysBody = JSON.stringify({ query: KEYS_ONLY, variables });
  const directPath = `/crm/v7/Leads?ids=${ids.join(',')}&fields=Record_Image`;
  const authorization = `Zoho-oauthtoken ${BENCH_TOKEN}`;
  const gatewayPool = new Pool(gateway.origin, { connections: 1 });
  const sinkPool = new Pool(sink.origin, { connections: 1 });

  const timed = async (send: () => Promise<string>, check: (body: string) => void): Promise<number> => {
    const started = performance.now();
    const body = await send();
    const ms = performance.now() - started;
    check(body);
    return ms;
  };
  const post = (body: string) => () =>
    gatewayPool
      .request({ path: gateway.path, method: 'POST', headers: { 'content-type': 'application/json', authorization }, body })
      .then((response) => response.body.text());
  const viaGateway = post(gatewayBody);
  const keysOnly = post(keysBody);
  const direct = () => sinkPool.request({ path: directPath, method: 'GET', headers: { authorization } }).then((response) => response.body.text());
  const checkGateway = (body: string) => {
    const entities = (JSON.parse(body) as { data?: { _entities?: { id: string; photo: { version: string } | null }[] } }).data?._entities;
    if (entities?.length !== ids.length || entities.some((e, i) => e.id !== ids[i] || e.photo?.version !== `bench-${ids[i]}`)) {
      throw new Error(`read cell: the gateway answered ${body.slice(0, 300)}`);
    }
  };
  const checkDirect = (body: string) => {
    if ((JSON.parse(body) as { data?: unknown[] }).data?.length !== ids.length) throw new Error(`read cell: the sink answered ${body.slice(0, 300)}`);
  };
  const checkKeys = (body: string) => {
    if ((JSON.parse(body) as { data?: { _entities?: unknown[] } }).data?._entities?.length !== ids.length) {
      throw new Error(`read cell: the gateway answered ${body.slice(0, 300)}`);
    }
  };
  const reads = async () => (await sink.child.call<SinkStats>('stats')).recordReads;

  const gatewayMs: number[] = [];
  const directMs: number[] = [];
  const keysMs: number[] = [];
  const calls: number[] = [];
  try {
    for (let i = 0; i < options.warmup + options.requests; i++) {
      const before = await reads();
      const g = await timed(viaGateway, checkGateway);
      const after = await reads();
      const d = await timed(direct, checkDirect);
      const beforeKeys = await reads();
      const k = await timed(keysOnly, checkKeys);
      if ((await reads()) !== beforeKeys) throw new Error('read cell: _entities for key fields only called the CRM');
      if (i < options.warmup) continue;
      gatewayMs.push(g);
      calls.push(after - before);
      directMs.push(d);
      keysMs.push(k);
    }
  } finally {
    await Promise.all([gatewayPool.close(), sinkPool.close()]);
  }
  return {
    records: options.records,
    requests: options.requests,
    gateway: { p50Ms: percentile(gatewayMs, 50), p99Ms: percentile(gatewayMs, 99) },
    direct: { p50Ms: percentile(directMs, 50), p99Ms: percentile(directMs, 99) },
    keysOnly: { p50Ms: percentile(keysMs, 50), p99Ms: percentile(keysMs, 99) },
    crmCallsPerRequest: [Math.min(...calls), Math.max(...calls)],
  };
}
