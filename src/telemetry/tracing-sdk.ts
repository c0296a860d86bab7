/**
 * The OpenTelemetry SDK behind `tracing.ts`, imported only when tracing is on.
 *
 * Spans, for a GraphQL request that uploads a photo:
 *
 *   POST /graphql                          SERVER, child of the caller's `traceparent` (e.g. the router's)
 *   └─ mutation UploadRecordPhoto          INTERNAL, graphql.operation.{type,name}; active while it executes
 *      ├─ POST /oauth/v2/token             CLIENT, service mode when a token is minted
 *      └─ POST /crm/v7/{module}/{record_id}/photo   CLIENT, HTTP semantic conventions; sends `traceparent`
 *
 * The CLIENT spans come from `@opentelemetry/instrumentation-undici`, which listens on undici's diagnostics
 * channels (no module patching) and parents each request to the context active when it is created: the
 * operation span, since execution runs inside `context.with`.
 */
import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { UndiciInstrumentation, type UndiciRequest } from '@opentelemetry/instrumentation-undici';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { getOperationAST, Kind, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Tracing, TracingLog, TracingSettings } from './tracing.ts';

// Incubating GraphQL and HTTP attributes: named here rather than loading the incubating entry point.
const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';
const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
const ATTR_URL_TEMPLATE = 'url.template';

const SCOPE = 'crm-record-photos';
/** The longest shutdown waits for the last export: a collector that is down must not hold up a stop. */
const SHUTDOWN_EXPORT_MS = 3_000;

/** Query parameters whose values are safe to record on a CRM span; any other value is redacted. */
const RECORDED_QUERY_PARAMETERS = new Set(['restrict_triggers']);

/** CRM paths as templates, so that spans group by endpoint rather than by record. */
const URL_TEMPLATES: [RegExp, string][] = [
  [/^\/crm\/([^/]+)\/[^/]+\/[^/]+\/photo$/, '/crm/$1/{module}/{record_id}/photo'],
  [/^\/oauth\/v2\/token$/, '/oauth/v2/token'],
];

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

export async function startTracingSdk(settings: TracingSettings, log?: TracingLog): Promise<Tracing> {
  if (log) {
    const quiet = () => {};
    diag.setLogger(
      { error: (message) => log.error(`OpenTelemetry: ${message}`), warn: (message) => log.warn(`OpenTelemetry: ${message}`), info: quiet, debug: quiet, verbose: quiet },
      DiagLogLevel.WARN,
    );
    setGlobalErrorHandler((error) => log.error(`OpenTelemetry: ${error instanceof Error ? error.message : String(error)}`));
  }
  const exporter = await exporterFor(settings);
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.defaultServiceName }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new TracerProvider({
    resource,
    sampler: samplerFor(settings.sampler),
    spanProcessors: [new BatchSpanProcessor({ exporter, ...settings.batch })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // Trace context only: baggage from a caller is not forwarded to the CRM.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);

  const undici = new UndiciInstrumentation({
    // Only requests made while a GraphQL request is traced (all CRM and accounts calls are).
    requireParentforSpans: true,
    startSpanHook: crmSpanAttributes,
    requestHook: (span, request) => {
      const template = urlTemplate(pathOf(request));
      if (template === undefined) return;
      span.setAttribute(ATTR_URL_TEMPLATE, template);
      span.updateName(`${request.method} ${template}`);
    },
  });
  undici.setTracerProvider(provider);

  const tracer = provider.getTracer(SCOPE);
  return {
    plugin: tracingPlugin(tracer),
    async shutdown() {
      undici.disable();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_EXPORT_MS);
        timer.unref();
      });
      try {
        await Promise.race([provider.shutdown(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

async function exporterFor(settings: TracingSettings): Promise<SpanExporter> {
  // Each exporter reads its endpoint, headers, timeout and compression from the OTEL_EXPORTER_OTLP_* variables.
  if (settings.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter();
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter();
}

/** The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name, as the OpenTelemetry SDKs read them. */
export function samplerFor({ name, ratio }: TracingSettings['sampler']): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

function pathOf(request: Pick<UndiciRequest, 'path'>): string {
  const query = request.path.indexOf('?');
  return query === -1 ? request.path : request.path.slice(0, query);
}

function urlTemplate(path: string): string | undefined {
  for (const [pattern, template] of URL_TEMPLATES) {
    if (pattern.test(path)) return path.replace(pattern, template);
  }
  return undefined;
}

/**
 * `url.full` and `url.query` (without its `?`, as the conventions have it) with every query value redacted but
 * the ones known to be harmless. Tokens travel in headers and form bodies, never in these URLs; this guards
 * against one that someday does.
 */
export function crmSpanAttributes(request: Pick<UndiciRequest, 'origin' | 'path'>): Attributes {
  let url: URL;
  try {
    url = new URL(request.path, request.origin);
  } catch {
    return {};
  }
  url.username = '';
  url.password = '';
  for (const key of new Set(url.searchParams.keys())) {
    if (!RECORDED_QUERY_PARAMETERS.has(key)) url.searchParams.set(key, 'REDACTED');
  }
  return { [ATTR_URL_FULL]: url.toString(), [ATTR_URL_QUERY]: url.search.slice(1) };
}

type ServerSpan = { span: Span; context: Context };

/** The Yoga plugin: spans for requests to the GraphQL endpoint and for the operations they execute. */
export function tracingPlugin(tracer: ReturnType<TracerProvider['getTracer']>): Plugin {
  const serverSpans = new WeakMap<Request, ServerSpan>();
  let graphqlPath = '/graphql';
  return {
    onYogaInit({ yoga }) {
      graphqlPath = yoga.graphqlEndpoint;
    },
    onRequest({ request, url }) {
      // Probes, GraphiQL assets and anything else off the endpoint are not traced.
      if (url.pathname !== graphqlPath) return;
      const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
      const attributes: Attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: request.method,
        [ATTR_URL_PATH]: url.pathname,
        [ATTR_URL_SCHEME]: url.protocol.replace(':', ''),
        [ATTR_HTTP_ROUTE]: graphqlPath,
      };
      const userAgent = request.headers.get('user-agent');
      if (userAgent !== null) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
      const span = tracer.startSpan(`${request.method} ${graphqlPath}`, { kind: SpanKind.SERVER, attributes }, parent);
      serverSpans.set(request, { span, context: trace.setSpan(parent, span) });
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      const request = (args.contextValue as { request?: Request }).request;
      const server = request ? serverSpans.get(request) : undefined;
      const parent = server?.context ?? context.active();
      const { name, attributes } = describeOperation(args);
      const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent);
      const active = trace.setSpan(parent, span);
      if (server) {
        server.span.setAttributes(attributes);
      }
      // Everything the resolvers start, the CRM call included, runs with the operation span active.
      setExecuteFn((executeArgs: ExecutionArgs) => context.with(active, () => executeFn(executeArgs)));
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result ? result.errors : undefined;
          if (errors?.length) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: errors[0]!.message });
          }
          span.end();
        },
      };
    },
    onResponse({ request, response }) {
      const server = serverSpans.get(request);
      if (!server) return;
      serverSpans.delete(request);
      const { span } = server;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
      // A server span fails on 5xx only: a 4xx is the caller's mistake, answered as designed.
      if (response.status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(response.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
  };
}

/** `mutation UploadRecordPhoto`, or for an anonymous operation its type and root fields: `mutation uploadRecordPhoto`. */
function describeOperation(args: { document: DocumentNode; operationName?: string | null }): { name: string; attributes: Attributes } {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return { name: 'GraphQL Operation', attributes: {} };
  const type = operation.operation;
  const attributes: Attributes = { [ATTR_GRAPHQL_OPERATION_TYPE]: type };
  const operationName = operation.name?.value;
  if (operationName) {
    attributes[ATTR_GRAPHQL_OPERATION_NAME] = operationName;
    return { name: `${type} ${operationName}`, attributes };
  }
  const fields = operation.selectionSet.selections.flatMap((selection) => (selection.kind === Kind.FIELD ? [selection.name.value] : []));
  return { name: fields.length ? `${type} ${fields.join(',')}` : type, attributes };
}
