import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CrmCallEnded } from '../crm/observer.ts';
import { OPERATION_REFUSAL_CODES } from '../graphql/refusals.ts';
import { uploadStreamRequestError } from '../http/request-errors.ts';
import { UploadStreamError } from '../photos/stream-reader.ts';
import { SUCCESS_TYPE_NAME } from '../photos/upload-record-photo.ts';
import type { UploadReport } from '../photos/upload-report.ts';
import type { Observer } from './observers.ts';

/** `outcome` of an upload that ended with a request error: the client's upload broke off, stalled or left. */
export const REQUEST_ERROR_OUTCOME = 'RequestError';
/** `outcome` of an upload that ended with a bug in the gateway (the caller got a masked 500). */
export const INTERNAL_ERROR_OUTCOME = 'InternalError';
/** `module` of an upload whose module is not a configured one (never expected: the schema's enum bounds it). */
export const OTHER_MODULE = 'other';

/** The request errors of the README's table: counted from 0, so that rate() sees their first occurrence. */
export const REQUEST_ERROR_CODES = [
  'BAD_MULTIPART_REQUEST',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'LENGTH_REQUIRED',
  'UPLOAD_TIMEOUT',
  'CSRF_PREVENTED',
  'UNAUTHENTICATED',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  ...OPERATION_REFUSAL_CODES,
] as const;

export interface CrmLoad {
  inFlight: number;
  queued: number;
  /** REDIS_URL: whether the CRM budget is shared through Redis right now; absent: no Redis configured. */
  sharedBudget?: boolean;
}

export interface MetricsOptions {
  /** API names of the configured modules: the only values the `module` label takes (besides `other`). */
  modules: readonly string[];
  /** Service mode: the gateway refreshes tokens, so `crm_token_refreshes_total` is exported. */
  serviceMode: boolean;
  /** REDIS_URL is set: `crm_shared_budget` is exported. */
  sharedBudget?: boolean;
  /** The process's own metrics (memory, CPU, event-loop lag, descriptors, GC); default true. */
  defaultMetrics?: boolean;
}

export interface GatewayMetrics {
  /** This gateway's own registry (never prom-client's global one). */
  readonly registry: Registry;
  /** Give to the gateway as (part of) `dependencies.observer`. */
  readonly observer: Observer;
  /** Give to the gateway in `dependencies.plugins`: counts request errors (4xx with an `extensions.code`). */
  readonly plugin: Plugin;
  /** Where the CRM gauges read the gateway's load at each scrape (`crmLoad` of the gateway). */
  readCrmLoadFrom(load: () => CrmLoad): void;
}

/** The gateway's Prometheus metrics in a registry of their own. Labels are bounded: modules, outcomes, codes. */
export function createMetrics(options: MetricsOptions): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  const modules = new Set(options.modules);
  const moduleLabel = (apiName: string) => (modules.has(apiName) ? apiName : OTHER_MODULE);

  const uploads = new Counter({
    name: 'crm_photo_uploads_total',
    help:
      'Uploads that ended, by module, outcome (the result union member; RequestError or InternalError when a request ' +
      'error or a bug ended it) and code (the CrmErrorCode, or the request error code; empty on success and for a bug).',
    labelNames: ['module', 'outcome', 'code'] as const,
    registers,
  });
  const uploadBytes = new Counter({
    name: 'crm_photo_upload_bytes_total',
    help: 'File bytes forwarded to the CRM, by module.',
    labelNames: ['module'] as const,
    registers,
  });
  const crmDuration = new Histogram({
    name: 'crm_request_duration_seconds',
    help: "Time at the CRM per call, from sending to its answer, by operation and the CRM's HTTP status (none: no answer).",
    labelNames: ['operation', 'status'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const queueWait = new Histogram({
    name: 'crm_upload_queue_wait_seconds',
    help: 'Time an upload waited for a CRM slot, by result: granted, or refused (queue full, queue timeout, client gone).',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const requestErrors = new Counter({
    name: 'http_request_errors_total',
    help: 'Requests refused with a request error (an HTTP 4xx with an extensions.code), by code; each code once per request.',
    labelNames: ['code'] as const,
    registers,
  });
  for (const code of REQUEST_ERROR_CODES) requestErrors.inc({ code }, 0);
  for (const module of modules) {
    uploads.inc({ module, outcome: SUCCESS_TYPE_NAME, code: '' }, 0);
    uploadBytes.inc({ module }, 0);
  }

  let readLoad: () => CrmLoad = () => ({ inFlight: 0, queued: 0 });
  new Gauge({
    name: 'crm_uploads_in_flight',
    help: 'Uploads holding a CRM slot (being sent to the CRM or waiting for its answer) right now.',
    registers,
    collect() {
      this.set(readLoad().inFlight);
    },
  });
  new Gauge({
    name: 'crm_upload_queue_depth',
    help: 'Uploads waiting for a CRM slot right now.',
    registers,
    collect() {
      this.set(readLoad().queued);
    },
  });

  if (options.sharedBudget) {
    new Gauge({
      name: 'crm_shared_budget',
      help: 'REDIS_URL: 1 while the CRM budget is shared with the other replicas through Redis, 0 while this replica is on its own limit (Redis unavailable).',
      registers,
      collect() {
        this.set(readLoad().sharedBudget ? 1 : 0);
      },
    });
  }

  const observer: Observer = {
    crmCallEnded(call: CrmCallEnded) {
      crmDuration.observe({ operation: call.operation, status: call.status === null ? 'none' : String(call.status) }, call.durationMs / 1000);
    },
    slotWaitEnded(waitMs: number, granted: boolean) {
      queueWait.observe({ result: granted ? 'granted' : 'refused' }, waitMs / 1000);
    },
    uploadEnded(report: UploadReport) {
      const module = moduleLabel(report.moduleApiName);
      uploads.inc({ module, ...outcomeLabels(report) });
      if (report.bytesForwarded > 0) uploadBytes.inc({ module }, report.bytesForwarded);
    },
  };
  if (options.serviceMode) {
    const refreshes = new Counter({
      name: 'crm_token_refreshes_total',
      help: "Service mode: access-token refreshes at the accounts server, by result (success, failure).",
      labelNames: ['result'] as const,
      registers,
    });
    refreshes.inc({ result: 'success' }, 0);
    refreshes.inc({ result: 'failure' }, 0);
    observer.tokenRefreshEnded = (result) => refreshes.inc({ result });
  }

  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  return {
    registry,
    observer,
    plugin: useRequestErrorCount((code) => requestErrors.inc({ code })),
    readCrmLoadFrom(load) {
      readLoad = load;
    },
  };
}

/** The `outcome` and `code` labels of an ended upload. */
export function outcomeLabels(report: Pick<UploadReport, 'outcome' | 'code' | 'error'>): { outcome: string; code: string } {
  if (report.outcome !== null) return { outcome: report.outcome, code: report.code ?? '' };
  if (report.error instanceof UploadStreamError) {
    return { outcome: REQUEST_ERROR_OUTCOME, code: String(uploadStreamRequestError(report.error).extensions.code) };
  }
  return { outcome: INTERNAL_ERROR_OUTCOME, code: '' };
}

interface ErrorLike {
  extensions?: { code?: unknown; http?: { status?: unknown } };
}

/**
 * Counts the request errors each answer carries: errors with an `extensions.code` and a 4xx `extensions.http.status`,
 * whether a plugin threw them before parsing (401, 403, 411, 413, 415) or they came from parsing, validation or a
 * broken upload. Each code counts once per request.
 */
export function useRequestErrorCount(count: (code: string) => void): Plugin {
  return {
    onResultProcess({ result }) {
      const codes = new Set<string>();
      for (const one of Array.isArray(result) ? result : [result]) {
        const errors = (one as { errors?: readonly ErrorLike[] } | null)?.errors;
        if (!Array.isArray(errors)) continue;
        for (const error of errors) {
          const status = error.extensions?.http?.status;
          const code = error.extensions?.code;
          if (typeof code === 'string' && typeof status === 'number' && status >= 400 && status < 500) codes.add(code);
        }
      }
      for (const code of codes) count(code);
    },
  };
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** The metrics listener: GET /metrics in Prometheus' text format, on a port of its own (never the GraphQL one). */
export async function startMetricsServer(registry: Registry, listen: { port: number; host: string }): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      () => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected\n');
      },
    );
  });
  // Scrapes are short: a connection left idle is dropped rather than held.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const refused = (error: NodeJS.ErrnoException) =>
      reject(new Error(`The metrics listener cannot listen on ${listen.host}:${listen.port} (METRICS_PORT): ${error.code ?? error.message}`, { cause: error }));
    server.once('error', refused);
    server.listen(listen.port, listen.host, () => {
      server.off('error', refused);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? 'localhost' : listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}/metrics`,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
