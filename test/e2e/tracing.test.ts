import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { EmulatorControl } from '../support/emulator-control.ts';
import { NODE, start, type Started } from '../support/process.ts';
import { UPLOAD_MUTATION } from '../support/upload-client.ts';
import { postMultipart } from './support/multipart.ts';
import { SPAN_KIND, STATUS_CODE, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';

// `npm start` with an OTLP endpoint set, against a receiver on loopback: the router's trace runs on through the
// gateway's spans into the CRM call, and the CRM request carries it on. Service mode, so that the accounts
// server's token call is a CRM call of its own. Once per OTLP protocol.

const API_KEY = 'tracing-test-key-0123456789';
const SERVICE_MODE = {
  ZOHO_CLIENT_ID: 'emulator-client',
  ZOHO_CLIENT_SECRET: 'emulator-secret',
  ZOHO_REFRESH_TOKEN: 'emulator-refresh-token',
  GATEWAY_API_KEYS: API_KEY,
};
const COLLECTOR_HEADER = 'x-collector-token';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) => spans.filter((span) => span.parentSpanId === parent.spanId);

describe.each(['http/protobuf', 'http/json'] as const)('traces over OTLP %s', (protocol) => {
  let receiver: OtlpReceiver;
  let app: Started;
  let url: string;
  let crm: EmulatorControl;
  let startedAt: number;
  beforeAll(async () => {
    startedAt = performance.now();
    receiver = await startOtlpReceiver();
    app = start(NODE, ['src/main.ts'], {
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        METRICS_PORT: '0',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_HEADERS: `${COLLECTOR_HEADER}=secret-for-the-collector`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        ...SERVICE_MODE,
      },
    });
    // Generous: on two busy cores, start-up with the SDK can take several seconds.
    url = (await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+?\/graphql)/, 45_000))[1]!;
    crm = new EmulatorControl((await app.waitFor(/embedded emulator at (http:\/\/[\w.:[\]-]+)/))[1]!);
  });
  afterAll(async () => {
    await app?.stop();
    await receiver?.close();
    console.log(`tracing ${protocol}: ${Math.round(performance.now() - startedAt)} ms`);
  });

  it('continues the caller’s trace: SERVER → operation → CLIENT spans for the token and the photo, traceparent sent on', async () => {
    const traceId = hex(16);
    const callerSpanId = hex(8);
    const response = await postMultipart(url, {
      query: UPLOAD_MUTATION,
      variables: { module: 'LEADS', recordId: '1000000000003', restrictWorkflow: true },
      file: png(64, 48),
      headers: { 'x-api-key': API_KEY, 'apollo-require-preflight': 'true', traceparent: `00-${traceId}-${callerSpanId}-01` },
    });
    expect(response.body).toMatchObject({ data: { uploadRecordPhoto: { __typename: 'UploadRecordPhotoSuccess' } } });

    const spans = (
      await receiver.waitFor((all) => all.filter((span) => span.traceId === traceId && span.kind === SPAN_KIND.CLIENT).length >= 2)
    ).filter((span) => span.traceId === traceId);

    // The SERVER span is the caller's child.
    const server = spans.find((span) => span.kind === SPAN_KIND.SERVER)!;
    expect(server).toMatchObject({
      name: 'POST /graphql',
      parentSpanId: callerSpanId,
      status: { code: STATUS_CODE.UNSET },
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/graphql',
        'url.path': '/graphql',
        'http.response.status_code': 200,
        'graphql.operation.type': 'mutation',
        'graphql.operation.name': 'UploadRecordPhoto',
      },
    });
    expect(server.resource['service.name']).toBe('crm-record-photos');

    // The operation span is the SERVER span's child.
    const [operation, ...others] = childrenOf(spans, server);
    expect(others).toEqual([]);
    expect(operation).toMatchObject({
      name: 'mutation UploadRecordPhoto',
      kind: SPAN_KIND.INTERNAL,
      attributes: { 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'UploadRecordPhoto' },
    });

    // Both CRM calls are CLIENT children of the operation, with the HTTP semantic conventions.
    const clients = childrenOf(spans, operation!);
    expect(clients.map((span) => span.kind)).toEqual([SPAN_KIND.CLIENT, SPAN_KIND.CLIENT]);
    const origin = new URL(crm.origin);
    const token = clients.find((span) => span.attributes['url.path'] === '/oauth/v2/token')!;
    expect(token).toMatchObject({
      name: 'POST /oauth/v2/token',
      status: { code: STATUS_CODE.UNSET },
      attributes: {
        'http.request.method': 'POST',
        'url.full': `${crm.origin}/oauth/v2/token`,
        'server.address': origin.hostname,
        'server.port': Number(origin.port),
        'http.response.status_code': 200,
      },
    });
    const photo = clients.find((span) => span.attributes['url.path'] === '/crm/v7/Leads/1000000000003/photo')!;
    expect(photo).toMatchObject({
      name: 'POST /crm/v7/{module}/{record_id}/photo',
      status: { code: STATUS_CODE.UNSET },
      attributes: {
        'http.request.method': 'POST',
        'url.full': `${crm.origin}/crm/v7/Leads/1000000000003/photo?restrict_triggers=workflow`,
        'url.query': 'restrict_triggers=workflow',
        'url.template': '/crm/v7/{module}/{record_id}/photo',
        'server.address': origin.hostname,
        'server.port': Number(origin.port),
        'http.response.status_code': 200,
      },
    });
    // Nesting in time, too: each child inside its parent.
    for (const [parent, child] of [[server, operation!], [operation!, token], [operation!, photo]] as const) {
      expect(child.startTimeUnixNano).toBeGreaterThanOrEqual(parent.startTimeUnixNano);
      expect(child.endTimeUnixNano).toBeLessThanOrEqual(parent.endTimeUnixNano);
    }

    // The CRM saw the same trace, with the photo call's span as the parent.
    const [entry] = (await crm.requests()).filter((logged) => logged.path === '/crm/v7/Leads/1000000000003/photo');
    expect(entry?.traceparent).toBe(`00-${traceId}-${photo.spanId}-01`);

    // The exporter spoke the protocol asked for, with the configured headers.
    const exported = receiver.exports.find((received) => received.spans.some((span) => span.traceId === traceId))!;
    expect(exported.contentType).toBe(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
    expect(exported.headers[COLLECTOR_HEADER]).toBe('secret-for-the-collector');
  });

  it('marks a failed CRM call as an error on its CLIENT span; a request without traceparent starts a trace of its own', async () => {
    await crm.addFault({ kind: 'internal-error', match: { module: 'Leads', recordId: '1000000000004' } });
    const response = await postMultipart(url, {
      query: UPLOAD_MUTATION,
      variables: { module: 'LEADS', recordId: '1000000000004' },
      file: png(64, 48),
      headers: { 'x-api-key': API_KEY, 'apollo-require-preflight': 'true' },
    });
    expect(response.body).toMatchObject({ data: { uploadRecordPhoto: { __typename: 'CrmServiceError' } } });
    const spans = await receiver.waitFor((all) =>
      all.some((span) => span.kind === SPAN_KIND.CLIENT && span.attributes['url.path'] === '/crm/v7/Leads/1000000000004/photo'),
    );
    const photo = spans.find((span) => span.attributes['url.path'] === '/crm/v7/Leads/1000000000004/photo')!;
    expect(photo).toMatchObject({ status: { code: STATUS_CODE.ERROR }, attributes: { 'http.response.status_code': 500, 'error.type': '500' } });
    const operation = spans.find((span) => span.spanId === photo.parentSpanId)!;
    const server = spans.find((span) => span.spanId === operation.parentSpanId)!;
    expect(server).toMatchObject({ kind: SPAN_KIND.SERVER, parentSpanId: '' });
  });
});
