/**
 * OpenTelemetry traces, off unless an OTLP endpoint is configured.
 *
 * This module loads nothing of OpenTelemetry: it reads the standard `OTEL_*` variables and, only when
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set, imports the SDK
 * (`tracing-sdk.ts`). With tracing off the gateway gets no plugin and undici's diagnostics channels have no
 * subscriber, so an upload costs what it costs without tracing.
 */
import type { Plugin } from 'graphql-yoga';
import { ConfigError } from '../config.ts';

export const DEFAULT_SERVICE_NAME = 'crm-record-photos';

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface TracingSettings {
  /** Where spans go: the OTLP/HTTP endpoint variable that is set (the exporter reads it itself). */
  endpointVariable: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT';
  protocol: OtlpProtocol;
  /** `service.name` when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one. */
  defaultServiceName: string;
  sampler: { name: SamplerName; ratio: number };
  /** The batch span processor, from the OTEL_BSP_* variables; unset ones keep the SDK's defaults. */
  batch: { scheduledDelayMillis?: number; exportTimeoutMillis?: number; maxQueueSize?: number; maxExportBatchSize?: number };
}

export interface Tracing {
  /** The Yoga plugin: a server span per GraphQL request, an operation span per execution, both children of `traceparent`. */
  readonly plugin: Plugin;
  /** Exports what is still buffered (bounded in time) and stops tracing. */
  shutdown(): Promise<void>;
}

/** Where the SDK's own complaints (an export that failed, a dropped span) go. */
export interface TracingLog {
  warn(message: string): void;
  error(message: string): void;
}

type Env = Record<string, string | undefined>;

function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === '' ? undefined : raw;
}

function wholeNumber(env: Env, name: string, min: number): number | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > 2_147_483_647) {
    throw new ConfigError(name, `must be a whole number of at least ${min}, got '${raw}'`);
  }
  return Number(raw);
}

function httpUrl(env: Env, name: string): void {
  const raw = value(env, name)!;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an http(s) URL such as http://otel-collector:4318, got '${raw}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `must be an http(s) URL such as http://otel-collector:4318, got '${raw}'`);
  }
}

/**
 * Tracing settings from the standard OpenTelemetry variables, or null when tracing is off: no endpoint set,
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. A value the gateway cannot honour stops start-up,
 * like any other bad configuration. Cheap: no OpenTelemetry module is loaded.
 */
export function tracingSettings(env: Env = process.env): TracingSettings | null {
  const endpointVariable =
    value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== undefined
      ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
      : value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined
        ? 'OTEL_EXPORTER_OTLP_ENDPOINT'
        : undefined;
  if (endpointVariable === undefined) return null;
  if (value(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return null;
  const exporter = value(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (exporter === 'none') return null;
  if (exporter !== undefined && exporter !== 'otlp') {
    throw new ConfigError('OTEL_TRACES_EXPORTER', `must be otlp or none, got '${exporter}'`);
  }
  httpUrl(env, endpointVariable);

  const protocolVariable = value(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = value(env, protocolVariable) ?? 'http/protobuf';
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new ConfigError(protocolVariable, `must be http/protobuf or http/json (OTLP over HTTP; grpc is not offered), got '${protocol}'`);
  }

  const samplerName = value(env, 'OTEL_TRACES_SAMPLER')?.toLowerCase() ?? 'parentbased_always_on';
  if (!(SAMPLERS as readonly string[]).includes(samplerName)) {
    throw new ConfigError('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}, got '${samplerName}'`);
  }
  let ratio = 1;
  const rawRatio = value(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (samplerName.endsWith('traceidratio') && rawRatio !== undefined) {
    ratio = Number(rawRatio);
    if (!/^\d*\.?\d+(e-?\d+)?$/i.test(rawRatio) || !(ratio >= 0 && ratio <= 1)) {
      throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `must be a ratio from 0 to 1, got '${rawRatio}'`);
    }
  }

  const batch: TracingSettings['batch'] = {};
  const scheduledDelayMillis = wholeNumber(env, 'OTEL_BSP_SCHEDULE_DELAY', 0);
  const exportTimeoutMillis = wholeNumber(env, 'OTEL_BSP_EXPORT_TIMEOUT', 1);
  const maxQueueSize = wholeNumber(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 1);
  const maxExportBatchSize = wholeNumber(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1);
  if (scheduledDelayMillis !== undefined) batch.scheduledDelayMillis = scheduledDelayMillis;
  if (exportTimeoutMillis !== undefined) batch.exportTimeoutMillis = exportTimeoutMillis;
  if (maxQueueSize !== undefined) batch.maxQueueSize = maxQueueSize;
  if (maxExportBatchSize !== undefined) batch.maxExportBatchSize = maxExportBatchSize;

  return {
    endpointVariable,
    protocol: protocol as OtlpProtocol,
    defaultServiceName: DEFAULT_SERVICE_NAME,
    sampler: { name: samplerName as SamplerName, ratio },
    batch,
  };
}

/**
 * Starts tracing when `settings` says so (see `tracingSettings`): loads the SDK, registers it globally and
 * returns the Yoga plugin to pass as one of the gateway's plugins. null: tracing is off, nothing was loaded.
 */
export async function startTracing(settings: TracingSettings | null, log?: TracingLog): Promise<Tracing | null> {
  if (settings === null) return null;
  const { startTracingSdk } = await import('./tracing-sdk.ts');
  return startTracingSdk(settings, log);
}
