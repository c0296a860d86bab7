import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { png } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts, type RawPart } from '../support/raw-multipart.ts';
import { sample, startMetricsStack, type MetricsStack } from '../support/metrics-stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';
import { createMetrics, outcomeLabels, startMetricsServer } from '../../src/telemetry/metrics.ts';
import { UploadStreamError } from '../../src/photos/stream-reader.ts';
import type { UploadReport } from '../../src/photos/upload-report.ts';

const UPLOADS = 'crm_photo_uploads_total';
const BYTES = 'crm_photo_upload_bytes_total';
const CRM_CALLS = 'crm_request_duration_seconds_count';
const REQUEST_ERRORS = 'http_request_errors_total';

function postJson(url: string, body: string): Promise<{ status: number; code: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          // what Apollo Client sends: with it, request errors come back as 4xx
          accept: 'application/graphql-response+json,application/json;q=0.9',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(text).errors?.[0]?.extensions?.code }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Every sample of a metric, summed over its labels. */
function total(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('one upload of every outcome family, read back from /metrics', () => {
  let stack: MetricsStack;
  let text: string;
  const first = png(64, 48);
  const second = png(10, 10);

  beforeAll(async () => {
    stack = await startMetricsStack();
    // Successes: the file's bytes reach the CRM.
    expect(resultOf(await uploadPhoto(stack.url, { file: first })).__typename).toBe('UploadRecordPhotoSuccess');
    expect(resultOf(await uploadPhoto(stack.url, { file: second, recordId: '1000000000002' })).__typename).toBe('UploadRecordPhotoSuccess');
    // A gateway refusal: no CRM call.
    expect(resultOf(await uploadPhoto(stack.url, { file: new Uint8Array(0) }))).toMatchObject({ code: 'EMPTY_FILE' });
    // CRM errors: a 500 from the CRM, a locked record, a connection reset (no answer).
    await stack.crm.addFault({ kind: 'internal-error', match: { module: 'Contacts' } });
    expect(resultOf(await uploadPhoto(stack.url, { file: second, module: 'CONTACTS' }))).toMatchObject({ code: 'INTERNAL_ERROR' });
    await stack.crm.lock('Contacts', '1000000000002');
    expect(resultOf(await uploadPhoto(stack.url, { file: second, module: 'CONTACTS', recordId: '1000000000002' }))).toMatchObject({
      code: 'RECORD_LOCKED',
    });
    await stack.crm.addFault({ kind: 'reset-mid-body', afterBytes: 10, match: { module: 'Deals' } });
    expect(resultOf(await uploadPhoto(stack.url, { file: png(200, 200), module: 'DEALS' }))).toMatchObject({
      __typename: 'CrmServiceError',
      code: 'CRM_UNREACHABLE',
    });
    // A request error inside the upload: the body ends four bytes into the file, before the gateway has a format.
    const file: RawPart = { name: '0', filename: 'a.png', contentType: 'image/png', data: png(10, 10) };
    const body = multipartBody([...uploadParts({ module: 'ACCOUNTS' }), file]);
    const cut = body.indexOf(Buffer.from([0x89, 0x50, 0x4e, 0x47])) + 4;
    const broken = await postRaw(stack.url, { headers: { 'transfer-encoding': 'chunked' }, write: async (req) => void req.end(body.subarray(0, cut)) });
    expect(broken.status).toBe(400);
    expect(broken.json?.errors?.[0]?.extensions?.code).toBe('BAD_MULTIPART_REQUEST');
    // Request errors before any upload: a malformed body, CSRF, a content type no parser takes, a JSON body too large,
    // a validation error.
    const notJson = await postRaw(stack.url, { body: multipartBody([{ name: 'operations', value: '{not json' }, uploadParts()[1]!, file]) });
    expect(notJson.json?.errors?.[0]?.extensions?.code).toBe('BAD_MULTIPART_REQUEST');
    const csrf = await postRaw(stack.url, { body, preflightHeader: false });
    expect([csrf.status, csrf.json?.errors?.[0]?.extensions?.code]).toEqual([403, 'CSRF_PREVENTED']);
    const text415 = await postRaw(stack.url, { body: Buffer.from('hello'), contentType: 'text/plain' });
    expect([text415.status, text415.json?.errors?.[0]?.extensions?.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(await postJson(stack.url, JSON.stringify({ query: '{ __typename }', padding: 'x'.repeat(1_100_000) }))).toEqual({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    });
    expect(await postJson(stack.url, JSON.stringify({ query: '{ noSuchField }' }))).toEqual({ status: 400, code: 'GRAPHQL_VALIDATION_FAILED' });
    // An answer without a request error is not counted.
    expect((await postJson(stack.url, JSON.stringify({ query: '{ __typename }' }))).status).toBe(200);
    text = await stack.scrape();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('counts each upload once, by module, outcome and code', () => {
    expect(sample(text, UPLOADS, { module: 'Leads', outcome: 'UploadRecordPhotoSuccess', code: '' })).toBe(2);
    expect(sample(text, UPLOADS, { module: 'Leads', outcome: 'PhotoRejectedError', code: 'EMPTY_FILE' })).toBe(1);
    expect(sample(text, UPLOADS, { module: 'Contacts', outcome: 'CrmServiceError', code: 'INTERNAL_ERROR' })).toBe(1);
    expect(sample(text, UPLOADS, { module: 'Contacts', outcome: 'RecordLockedError', code: 'RECORD_LOCKED' })).toBe(1);
    expect(sample(text, UPLOADS, { module: 'Deals', outcome: 'CrmServiceError', code: 'CRM_UNREACHABLE' })).toBe(1);
    expect(sample(text, UPLOADS, { module: 'Accounts', outcome: 'RequestError', code: 'BAD_MULTIPART_REQUEST' })).toBe(1);
    expect(total(text, UPLOADS)).toBe(7);
    // Every configured module starts at 0, so a first success is an increase.
    expect(sample(text, UPLOADS, { module: 'Vendors', outcome: 'UploadRecordPhotoSuccess', code: '' })).toBe(0);
  });

  it('counts the file bytes forwarded to the CRM, by module', () => {
    expect(sample(text, BYTES, { module: 'Leads' })).toBe(first.length + second.length);
    expect(sample(text, BYTES, { module: 'Accounts' })).toBe(0);
    expect(sample(text, BYTES, { module: 'Contacts' })).toBe(2 * second.length);
  });

  it('times each CRM call by operation and status, `none` when no answer came', () => {
    expect(sample(text, CRM_CALLS, { operation: 'upload-photo', status: '200' })).toBe(2);
    expect(sample(text, CRM_CALLS, { operation: 'upload-photo', status: '500' })).toBe(1);
    expect(sample(text, CRM_CALLS, { operation: 'upload-photo', status: 'none' })).toBe(1);
    // The locked record: whatever status the CRM gives it, four calls plus it make five.
    expect(total(text, CRM_CALLS)).toBe(5);
    expect(sample(text, 'crm_request_duration_seconds_bucket', { operation: 'upload-photo', status: '200', le: '+Inf' })).toBe(2);
    expect(sample(text, 'crm_request_duration_seconds_sum', { operation: 'upload-photo', status: '200' })).toBeGreaterThan(0);
    expect(sample(text, 'crm_upload_queue_wait_seconds_count', { result: 'granted' })).toBe(5);
  });

  it('counts request errors by code, once per request, whether refused before parsing or while uploading', () => {
    expect(sample(text, REQUEST_ERRORS, { code: 'BAD_MULTIPART_REQUEST' })).toBe(2);
    expect(sample(text, REQUEST_ERRORS, { code: 'CSRF_PREVENTED' })).toBe(1);
    expect(sample(text, REQUEST_ERRORS, { code: 'UNSUPPORTED_MEDIA_TYPE' })).toBe(1);
    expect(sample(text, REQUEST_ERRORS, { code: 'PAYLOAD_TOO_LARGE' })).toBe(1);
    expect(sample(text, REQUEST_ERRORS, { code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    expect(sample(text, REQUEST_ERRORS, { code: 'UNAUTHENTICATED' })).toBe(0);
    expect(total(text, REQUEST_ERRORS)).toBe(6);
  });

  it('exports the process metrics', () => {
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'process_open_fds')).toBeGreaterThan(0);
    expect(text).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
    expect(text).not.toMatch(/crm_token_refreshes_total/); // pass-through: there is no token to refresh
  });

  it('serves /metrics only on its own port', async () => {
    expect(new URL(stack.metricsUrl).port).not.toBe(new URL(stack.url).port);
    const onGraphqlPort = await fetch(new URL('/metrics', stack.url));
    expect(onGraphqlPort.status).toBe(404);
    expect(await onGraphqlPort.text()).not.toMatch(/crm_photo_uploads_total/);
    const metrics = await fetch(stack.metricsUrl);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await fetch(new URL('/graphql', stack.metricsUrl))).status).toBe(404);
    expect((await fetch(stack.metricsUrl, { method: 'POST' })).status).toBe(405);
  });
});

describe('the CRM load gauges', () => {
  let stack: MetricsStack;
  beforeAll(async () => {
    stack = await startMetricsStack({ CRM_MAX_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('show the uploads holding a CRM slot and waiting for one, at the moment of the scrape', async () => {
    let text = await stack.scrape();
    expect([sample(text, 'crm_uploads_in_flight'), sample(text, 'crm_upload_queue_depth')]).toEqual([0, 0]);
    await stack.crm.addFault({ kind: 'latency', delayMs: 1_500 });
    const uploads = Promise.all([
      uploadPhoto(stack.url, { file: png(8, 8) }),
      uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000002' }),
    ]);
    const deadline = Date.now() + 5_000;
    let seen: [number | undefined, number | undefined] = [undefined, undefined];
    while (Date.now() < deadline) {
      text = await stack.scrape();
      seen = [sample(text, 'crm_uploads_in_flight'), sample(text, 'crm_upload_queue_depth')];
      if (seen[0] === 1 && seen[1] === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(seen).toEqual([1, 1]);
    expect((await uploads).map((r) => resultOf(r).__typename)).toEqual(['UploadRecordPhotoSuccess', 'UploadRecordPhotoSuccess']);
    text = await stack.scrape();
    expect([sample(text, 'crm_uploads_in_flight'), sample(text, 'crm_upload_queue_depth')]).toEqual([0, 0]);
    expect(sample(text, 'crm_upload_queue_wait_seconds_count', { result: 'granted' })).toBe(2);
    // The second upload waited for the first one's slot: most of the CRM's 1.5 s delay.
    expect(sample(text, 'crm_upload_queue_wait_seconds_sum', { result: 'granted' })).toBeGreaterThan(1);
  });
});

describe('service mode', () => {
  const KEY = 'metrics-test-key-0123456789';
  let stack: MetricsStack;
  beforeAll(async () => {
    // The gateway (in this process) reads this clock: the refresh back-off passes in one step, not a real second.
    vi.useFakeTimers({ toFake: ['Date'] });
    stack = await startMetricsStack({
      ZOHO_CLIENT_ID: 'emulator-client',
      ZOHO_CLIENT_SECRET: 'emulator-secret',
      ZOHO_REFRESH_TOKEN: 'emulator-refresh-token',
      GATEWAY_API_KEYS: KEY,
    });
  });
  afterAll(async () => {
    await stack?.close();
    vi.useRealTimers();
  });

  const upload = (headers: Record<string, string>) =>
    postRaw(stack.url, { headers: { authorization: '', ...headers }, body: multipartBody([...uploadParts(), { name: '0', filename: 'a.png', data: png(8, 8) }]) });

  it('counts token refreshes by result, and the 401 of a caller without a key', async () => {
    let text = await stack.scrape();
    expect(sample(text, 'crm_token_refreshes_total', { result: 'success' })).toBe(0);
    expect(sample(text, 'crm_token_refreshes_total', { result: 'failure' })).toBe(0);

    const refused = await upload({});
    expect([refused.status, refused.json?.errors?.[0]?.extensions?.code]).toEqual([401, 'UNAUTHENTICATED']);

    await stack.crm.addFault({ target: 'accounts', kind: 'internal-error' });
    const failed = await upload({ 'x-api-key': KEY });
    expect(failed.json?.data?.uploadRecordPhoto).toMatchObject({ code: 'AUTHENTICATION_FAILURE' });
    vi.setSystemTime(Date.now() + 1_000); // the refresh back-off's first second
    const uploaded = await upload({ 'x-api-key': KEY });
    expect(uploaded.json?.data?.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');

    text = await stack.scrape();
    expect(sample(text, 'crm_token_refreshes_total', { result: 'success' })).toBe(1);
    expect(sample(text, 'crm_token_refreshes_total', { result: 'failure' })).toBe(1);
    expect(sample(text, REQUEST_ERRORS, { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(sample(text, UPLOADS, { module: 'Leads', outcome: 'AuthenticationError', code: 'AUTHENTICATION_FAILURE' })).toBe(1);
    expect(sample(text, UPLOADS, { module: 'Leads', outcome: 'UploadRecordPhotoSuccess', code: '' })).toBe(1);
  });
});

describe('labels', () => {
  const report = (fields: Partial<UploadReport>): UploadReport => ({
    requestId: 'req-1',
    moduleApiName: 'Leads',
    recordId: '1000000000001',
    outcome: null,
    code: null,
    crmStatus: null,
    bytesForwarded: 0,
    queuedMs: null,
    crmMs: null,
    totalMs: 1,
    ...fields,
  });

  it('name a request error by its code and a bug InternalError with no code', () => {
    expect(outcomeLabels(report({ error: new UploadStreamError('idle', 'quiet') }))).toEqual({ outcome: 'RequestError', code: 'UPLOAD_TIMEOUT' });
    expect(outcomeLabels(report({ error: new UploadStreamError('broken', 'cut') }))).toEqual({ outcome: 'RequestError', code: 'BAD_MULTIPART_REQUEST' });
    expect(outcomeLabels(report({ error: new TypeError('a bug') }))).toEqual({ outcome: 'InternalError', code: '' });
    expect(outcomeLabels(report({ outcome: 'UploadRecordPhotoSuccess' }))).toEqual({ outcome: 'UploadRecordPhotoSuccess', code: '' });
  });

  it('never carry a record id or request id, and an unconfigured module is `other`', async () => {
    const metrics = createMetrics({ modules: ['Leads'], serviceMode: false, defaultMetrics: false });
    metrics.observer.uploadEnded!(report({ error: new TypeError('a bug'), recordId: '4242424242424242' }));
    metrics.observer.uploadEnded!(report({ moduleApiName: 'Surprise', outcome: 'UploadRecordPhotoSuccess', bytesForwarded: 7 }));
    const text = await metrics.registry.metrics();
    expect(sample(text, UPLOADS, { module: 'Leads', outcome: 'InternalError', code: '' })).toBe(1);
    expect(sample(text, UPLOADS, { module: 'other', outcome: 'UploadRecordPhotoSuccess', code: '' })).toBe(1);
    expect(sample(text, BYTES, { module: 'other' })).toBe(7);
    expect(text).not.toMatch(/4242424242424242|req-1|Surprise/);
    expect(text).not.toMatch(/^process_/m);
  });

  it('crm_shared_budget: only with REDIS_URL, 1 while the budget is shared, 0 while this replica is on its own limit', async () => {
    let shared = true;
    const withRedis = createMetrics({ modules: ['Leads'], serviceMode: false, sharedBudget: true, defaultMetrics: false });
    withRedis.readCrmLoadFrom(() => ({ inFlight: 0, queued: 0, sharedBudget: shared }));
    expect(sample(await withRedis.registry.metrics(), 'crm_shared_budget')).toBe(1);
    shared = false;
    expect(sample(await withRedis.registry.metrics(), 'crm_shared_budget')).toBe(0);
    const without = createMetrics({ modules: ['Leads'], serviceMode: false, defaultMetrics: false });
    expect(await without.registry.metrics()).not.toContain('crm_shared_budget');
  });

  it('each gateway has its own registry: two in one process do not collide', async () => {
    const a = createMetrics({ modules: ['Leads'], serviceMode: true });
    const b = createMetrics({ modules: ['Leads'], serviceMode: true });
    a.observer.tokenRefreshEnded!('success');
    expect(sample(await a.registry.metrics(), 'crm_token_refreshes_total', { result: 'success' })).toBe(1);
    expect(sample(await b.registry.metrics(), 'crm_token_refreshes_total', { result: 'success' })).toBe(0);
  });
});

describe('the metrics listener', () => {
  it('refuses to start on a port already taken, naming METRICS_PORT', async () => {
    const metrics = createMetrics({ modules: ['Leads'], serviceMode: false, defaultMetrics: false });
    const first = await startMetricsServer(metrics.registry, { port: 0, host: '127.0.0.1' });
    try {
      const port = Number(new URL(first.url).port);
      await expect(startMetricsServer(metrics.registry, { port, host: '127.0.0.1' })).rejects.toThrow(
        `The metrics listener cannot listen on 127.0.0.1:${port} (METRICS_PORT): EADDRINUSE`,
      );
    } finally {
      await first.close();
    }
  });
});
