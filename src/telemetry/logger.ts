import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { Plugin, YogaLogger } from 'graphql-yoga';
import type { TelemetrySettings } from '../config.ts';
import type { CrmObserver } from '../crm/observer.ts';
import { requestIdOf } from '../http/request-id.ts';
import { uploadStreamRequestError } from '../http/request-errors.ts';
import { UploadStreamError } from '../photos/stream-reader.ts';
import type { UploadObserver, UploadReport } from '../photos/upload-report.ts';
import type { DownloadObserver, DownloadReport } from '../photos/download-report.ts';

export type { Logger } from 'pino';

/** Keys that may hold a credential, wherever they sit in a logged object: their values never reach a line. */
const SECRET_KEYS = ['authorization', 'x-api-key', 'apiKey', 'token', 'accessToken', 'access_token', 'refreshToken', 'refresh_token', 'clientSecret', 'client_secret', 'password', 'cookie'];
const REDACT_PATHS = SECRET_KEYS.flatMap((key) => {
  const segment = /^\w+$/.test(key) ? `.${key}` : `["${key}"]`;
  return [segment.replace(/^\./, ''), `*${segment}`, `*.*${segment}`];
});

/** JSON lines on stdout (or `destination`), human-readable when `pretty`; every line redacted. */
export function createLogger(settings: Pick<TelemetrySettings, 'logLevel' | 'logFormat'>, destination?: DestinationStream): Logger {
  const options = {
    level: settings.logLevel,
    base: { service: 'crm-record-photos' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (settings.logFormat === 'pretty') {
    // Loaded only for people at a terminal (≈ 10 MiB and a few hundred ms at start-up): JSON lines need none of it.
    const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(options, pinoPretty({ destination: destination ?? 1, sync: true, colorize: !destination && process.stdout.isTTY === true }));
  }
  // Synchronous: lines stay in order, none is lost when the process exits, and each is out as its request ends.
  // (Asynchronous and batched writes were tried: no gain two A/B runs agree on, bench/FINDINGS.md.)
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

/**
 * The same logger without redaction, for the one line per upload or download: its keys are fixed (none of them a
 * secret's) and its values are counts, names and codes, so the wildcard paths can never match there, yet walking
 * them cost ≈ 75 µs a line, the largest single cost the gateway added to a 100 KB upload (bench/FINDINGS.md).
 * Anything that may carry an object from elsewhere (an error, headers) goes through the redacting logger.
 */
function factsLogger(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [] } });
}

/** Yoga's own messages (its error log of a bug, with the stack) through the same logger. */
export function yogaLogger(logger: Logger): YogaLogger {
  const forward = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => {
    const [first, ...rest] = args;
    if (first instanceof Error) logger[level]({ err: first }, first.message);
    else logger[level](rest.length ? { details: rest } : {}, String(first));
  };
  return { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };
}

/**
 * One line per upload when it ends. A CRM that failed (5xx, timeout, unreachable) is a `warn`; a bug is an
 * `error` with its stack; everything else the caller is told about — refusals and request errors — is `info`.
 */
export function uploadLog(logger: Logger): UploadObserver {
  const facts = factsLogger(logger);
  return {
    uploadEnded(report: UploadReport) {
      const { error, ...rest } = report;
      const line = {
        requestId: rest.requestId,
        module: rest.moduleApiName,
        recordId: rest.recordId,
        outcome: rest.outcome,
        code: rest.code,
        crmStatus: rest.crmStatus,
        bytesForwarded: rest.bytesForwarded,
        queuedMs: round(rest.queuedMs),
        crmMs: round(rest.crmMs),
        totalMs: round(rest.totalMs),
        // Only for photos the gateway changed, so the line of a photo forwarded as sent stays as it was.
        ...(rest.resize ? { resize: { ...rest.resize, queuedMs: round(rest.resize.queuedMs), ms: round(rest.resize.ms) } } : {}),
        ...(rest.locationRemoved ? { locationRemoved: true } : {}),
      };
      if (error instanceof UploadStreamError) {
        const refusal = uploadStreamRequestError(error);
        facts.info({ ...line, outcome: 'RequestError', code: refusal.extensions.code, httpStatus: refusal.extensions.http?.status }, 'upload ended: request error');
      } else if (error !== undefined) {
        logger.error({ ...line, outcome: 'InternalError', err: error }, 'upload ended: gateway bug');
      } else if (rest.outcome === 'CrmServiceError') {
        facts.warn(line, 'upload ended: the CRM failed');
      } else {
        facts.info(line, 'upload ended');
      }
    },
  };
}

/**
 * One line per download (`GET /photos/…`) when it ends: `warn` when the CRM failed (5xx, timeout, unreachable, an
 * answer that broke off), `info` otherwise. The URL is not logged: a signed link's signature stays out of the line.
 */
export function downloadLog(logger: Logger): DownloadObserver {
  const facts = factsLogger(logger);
  return {
    downloadEnded(report: DownloadReport) {
      const line = {
        requestId: report.requestId,
        module: report.moduleApiName,
        recordId: report.recordId,
        outcome: report.outcome,
        httpStatus: report.httpStatus,
        bytesSent: report.bytesSent,
        crmStatus: report.crmStatus,
        totalMs: round(report.totalMs),
      };
      if (report.crmFailed) facts.warn(line, 'download ended: the CRM failed');
      else facts.info(line, 'download ended');
    },
  };
}

/** REDIS_URL: one line whenever the CRM budget becomes shared, or this replica falls back to its own limit. */
export function sharedBudgetLog(logger: Logger): CrmObserver {
  return {
    sharedBudgetChanged({ shared, detail, localMax }) {
      if (shared) logger.info({ sharedBudget: 'shared' }, 'Redis connected: the CRM budget, token and 429 pauses are shared by the replicas');
      else {
        logger.warn(
          { sharedBudget: 'unavailable', reason: detail, localLimit: localMax },
          `Redis unavailable (${detail}): this replica runs on its own limit of ${localMax} CRM calls until Redis is back`,
        );
      }
    },
  };
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}

/** Request errors (4xx) that end a request before or outside an upload: one `info` line each, with the request id. */
export function useRequestErrorLog(logger: Logger): Plugin {
  return {
    onResultProcess({ request, result }) {
      const results = Array.isArray(result) ? result : [result];
      for (const one of results) {
        const errors = (one as { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }).errors ?? [];
        const refusal = errors.find((error) => {
          const status = (error.extensions?.http as { status?: number } | undefined)?.status;
          return typeof status === 'number' && status >= 400 && status < 500;
        });
        if (!refusal) continue;
        logger.info(
          {
            requestId: requestIdOf(request),
            code: refusal.extensions?.code,
            httpStatus: (refusal.extensions?.http as { status?: number }).status,
            method: request.method,
          },
          `request refused: ${refusal.message.slice(0, 200)}`,
        );
      }
    },
  };
}
