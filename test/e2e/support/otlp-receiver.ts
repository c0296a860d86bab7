/**
 * An OTLP/HTTP trace receiver for tests: accepts POST /v1/traces as `application/json` or
 * `application/x-protobuf` on loopback and keeps every span, decoded into one shape.
 *
 * The protobuf decoder is written here from the OTLP field numbers (opentelemetry-proto, trace/v1), not taken
 * from the SDK that encodes: a test of the exporter should not read its output with the exporter's own code.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AttributeValue = string | number | boolean | null | AttributeValue[];

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttributeValue>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  scope: string;
  resource: Record<string, AttributeValue>;
}

export interface ReceivedExport {
  contentType: string;
  headers: IncomingHttpHeaders;
  spans: ReceivedSpan[];
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
export const STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface OtlpReceiver {
  readonly url: string;
  readonly exports: ReceivedExport[];
  spans(): ReceivedSpan[];
  /** Polls until `predicate` holds over all spans received, or fails after `timeoutMs`. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: ReceivedExport[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      try {
        const spans = contentType.startsWith('application/x-protobuf')
          ? decodeProtobufRequest(body)
          : contentType.startsWith('application/json')
            ? decodeJsonRequest(JSON.parse(body.toString('utf8')))
            : undefined;
        if (spans === undefined) {
          res.writeHead(415).end();
          return;
        }
        exports.push({ contentType, headers: req.headers, spans });
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
        return;
      }
      // An empty ExportTraceServiceResponse: full success.
      if (contentType.startsWith('application/json')) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const spans = () => exports.flatMap((received) => received.spans);
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    spans,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = spans();
        if (predicate(all)) return all;
        if (Date.now() > deadline) {
          throw new Error(`the receiver never got the spans: ${JSON.stringify(all.map((s) => [s.name, s.traceId, s.spanId, s.parentSpanId]))}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// --- OTLP/JSON -------------------------------------------------------------------------------------------

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
}
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}

function jsonValue(value: JsonAnyValue | undefined): AttributeValue {
  if (value === undefined) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(jsonValue);
  return null;
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, jsonValue(value)]));
}

/** OTLP/JSON: ids are hex strings (the OTLP JSON mapping's exception to proto3 JSON). */
export function decodeJsonRequest(request: {
  resourceSpans?: {
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        attributes?: JsonKeyValue[];
        status?: { code?: number; message?: string };
        startTimeUnixNano?: string | number;
        endTimeUnixNano?: string | number;
      }[];
    }[];
  }[];
}): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = jsonAttributes(resourceSpans.resource?.attributes);
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        traceId: span.traceId.toLowerCase(),
        spanId: span.spanId.toLowerCase(),
        parentSpanId: (span.parentSpanId ?? '').toLowerCase(),
        name: span.name,
        kind: span.kind ?? 0,
        attributes: jsonAttributes(span.attributes),
        status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
        startTimeUnixNano: BigInt(span.startTimeUnixNano ?? 0),
        endTimeUnixNano: BigInt(span.endTimeUnixNano ?? 0),
        scope: scopeSpans.scope?.name ?? '',
        resource,
      })),
    );
  });
}

// --- OTLP/protobuf ---------------------------------------------------------------------------------------

type Field = { number: number; wire: 0; value: bigint } | { number: number; wire: 1 | 5; value: Buffer } | { number: number; wire: 2; value: Buffer };

/** The fields of one protobuf message, in order (wire types 0, 1, 2 and 5; groups are not used by OTLP). */
function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buffer.length || shift > 63n) throw new Error('truncated or oversized varint');
      const byte = buffer[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  const take = (length: number): Buffer => {
    if (pos + length > buffer.length) throw new Error('truncated field');
    const slice = buffer.subarray(pos, pos + length);
    pos += length;
    return slice;
  };
  while (pos < buffer.length) {
    const tag = Number(varint());
    const number = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ number, wire, value: varint() });
    else if (wire === 1) out.push({ number, wire, value: take(8) });
    else if (wire === 5) out.push({ number, wire, value: take(4) });
    else if (wire === 2) out.push({ number, wire, value: take(Number(varint())) });
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const bytesOf = (list: Field[], number: number): Buffer[] =>
  list.flatMap((field) => (field.number === number && field.wire === 2 ? [field.value] : []));
const firstBytes = (list: Field[], number: number): Buffer | undefined => bytesOf(list, number)[0];
const text = (list: Field[], number: number): string => firstBytes(list, number)?.toString('utf8') ?? '';
const varintOf = (list: Field[], number: number): bigint => {
  const field = list.find((f) => f.number === number && f.wire === 0);
  return field ? (field.value as bigint) : 0n;
};
const fixed64Of = (list: Field[], number: number): bigint => {
  const field = list.find((f) => f.number === number && f.wire === 1);
  return field ? (field.value as Buffer).readBigUInt64LE() : 0n;
};

/** AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes. */
function anyValue(buffer: Buffer): AttributeValue {
  const [field] = fields(buffer);
  if (!field) return null;
  switch (field.number) {
    case 1:
      return (field.value as Buffer).toString('utf8');
    case 2:
      return (field.value as bigint) !== 0n;
    case 3:
      return Number(BigInt.asIntN(64, field.value as bigint));
    case 4:
      return (field.value as Buffer).readDoubleLE();
    case 5:
      return bytesOf(fields(field.value as Buffer), 1).map(anyValue);
    default:
      return null;
  }
}

/** repeated KeyValue (1 key, 2 value). */
function keyValues(list: Buffer[]): Record<string, AttributeValue> {
  return Object.fromEntries(
    list.map((entry) => {
      const kv = fields(entry);
      const value = firstBytes(kv, 2);
      return [text(kv, 1), value ? anyValue(value) : null];
    }),
  );
}

/**
 * ExportTraceServiceRequest: 1 resource_spans. ResourceSpans: 1 resource (1 attributes), 2 scope_spans.
 * ScopeSpans: 1 scope (1 name), 2 spans. Span: 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind,
 * 7 start_time_unix_nano, 8 end_time_unix_nano, 9 attributes, 15 status (2 message, 3 code).
 */
export function decodeProtobufRequest(body: Buffer): ReceivedSpan[] {
  return bytesOf(fields(body), 1).flatMap((resourceSpansBytes) => {
    const resourceSpans = fields(resourceSpansBytes);
    const resourceBytes = firstBytes(resourceSpans, 1);
    const resource = resourceBytes ? keyValues(bytesOf(fields(resourceBytes), 1)) : {};
    return bytesOf(resourceSpans, 2).flatMap((scopeSpansBytes) => {
      const scopeSpans = fields(scopeSpansBytes);
      const scopeBytes = firstBytes(scopeSpans, 1);
      const scope = scopeBytes ? text(fields(scopeBytes), 1) : '';
      return bytesOf(scopeSpans, 2).map((spanBytes) => {
        const span = fields(spanBytes);
        const statusBytes = firstBytes(span, 15);
        const status = statusBytes ? fields(statusBytes) : [];
        return {
          traceId: firstBytes(span, 1)?.toString('hex') ?? '',
          spanId: firstBytes(span, 2)?.toString('hex') ?? '',
          parentSpanId: firstBytes(span, 4)?.toString('hex') ?? '',
          name: text(span, 5),
          kind: Number(varintOf(span, 6)),
          attributes: keyValues(bytesOf(span, 9)),
          status: { code: Number(varintOf(status, 3)), message: text(status, 2) },
          startTimeUnixNano: fixed64Of(span, 7),
          endTimeUnixNano: fixed64Of(span, 8),
          scope,
          resource,
        };
      });
    });
  });
}
