import { afterAll, beforeAll, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { startMetricsStack, type MetricsStack } from '../support/metrics-stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';
import { startPrometheus, type Prometheus } from './support/prometheus.ts';

// A real Prometheus (Debian's) scrapes the gateway's metrics listener every second; the counters are read back
// through its HTTP query API, as a dashboard or an alert rule would read them.

let stack: MetricsStack;
let prometheus: Prometheus;
const JOB = 'crm-record-photos';
const success = png(64, 48);

beforeAll(async () => {
  stack = await startMetricsStack();
  prometheus = await startPrometheus([new URL(stack.metricsUrl).host], { job: JOB });

  // One upload of every outcome family, and request errors before and inside an upload.
  expect(resultOf(await uploadPhoto(stack.url, { file: success })).__typename).toBe('UploadRecordPhotoSuccess');
  await stack.crm.addFault({ kind: 'internal-error' });
  expect(resultOf(await uploadPhoto(stack.url, { file: png(8, 8), module: 'CONTACTS' }))).toMatchObject({ code: 'INTERNAL_ERROR' });
  expect(resultOf(await uploadPhoto(stack.url, { file: new Uint8Array(0) }))).toMatchObject({ code: 'EMPTY_FILE' });
  const body = multipartBody([...uploadParts({ module: 'ACCOUNTS' }), { name: '0', filename: 'a.png', data: png(8, 8) }]);
  const cut = body.indexOf(Buffer.from([0x89, 0x50, 0x4e, 0x47])) + 4; // four bytes into the file
  const broken = await postRaw(stack.url, { headers: { 'transfer-encoding': 'chunked' }, write: async (req) => void req.end(body.subarray(0, cut)) });
  expect(broken.json?.errors?.[0]?.extensions?.code).toBe('BAD_MULTIPART_REQUEST');
  const csrf = await postRaw(stack.url, { body, preflightHeader: false });
  expect(csrf.json?.errors?.[0]?.extensions?.code).toBe('CSRF_PREVENTED');
});

afterAll(async () => {
  await prometheus?.stop();
  await stack?.close();
});

it('scrapes the metrics listener', async () => {
  const up = await prometheus.waitFor(`up{job="${JOB}"}`, (result) => result[0]?.value === 1);
  expect(up).toHaveLength(1);
  expect(up[0]!.labels.instance).toBe(new URL(stack.metricsUrl).host);
});

it('reads back every upload, by module, outcome and code', async () => {
  const series = await prometheus.waitFor(`crm_photo_uploads_total{job="${JOB}"} > 0`, (result) => result.length === 4);
  // Prometheus keeps no empty label: a success has no `code`.
  const seen = Object.fromEntries(series.map(({ labels, value }) => [`${labels.module} ${labels.outcome} ${labels.code ?? ''}`, value]));
  expect(seen).toEqual({
    'Leads UploadRecordPhotoSuccess ': 1,
    'Contacts CrmServiceError INTERNAL_ERROR': 1,
    'Leads PhotoRejectedError EMPTY_FILE': 1,
    'Accounts RequestError BAD_MULTIPART_REQUEST': 1,
  });
  const bytes = await prometheus.query(`crm_photo_upload_bytes_total{job="${JOB}",module="Leads"}`);
  expect(bytes.map((s) => s.value)).toEqual([success.length]);
});

it('reads back request errors by code, and CRM calls by status', async () => {
  const errors = await prometheus.waitFor(`http_request_errors_total{job="${JOB}"} > 0`, (result) => result.length === 2);
  expect(Object.fromEntries(errors.map(({ labels, value }) => [labels.code, value]))).toEqual({ BAD_MULTIPART_REQUEST: 1, CSRF_PREVENTED: 1 });
  const calls = await prometheus.waitFor(`sum by (status) (crm_request_duration_seconds_count{job="${JOB}"})`, (result) => result.length === 2);
  expect(Object.fromEntries(calls.map(({ labels, value }) => [labels.status, value]))).toEqual({ '200': 1, '500': 1 });
  const median = await prometheus.query(`histogram_quantile(0.5, sum by (le) (crm_request_duration_seconds_bucket{job="${JOB}"}))`);
  expect(median[0]!.value).toBeGreaterThan(0);
  expect(median[0]!.value).toBeLessThan(60);
});

it('reads back the CRM load gauges and the process metrics', async () => {
  expect((await prometheus.query(`crm_uploads_in_flight{job="${JOB}"}`)).map((s) => s.value)).toEqual([0]);
  expect((await prometheus.query(`crm_upload_queue_depth{job="${JOB}"}`)).map((s) => s.value)).toEqual([0]);
  const granted = await prometheus.query(`crm_upload_queue_wait_seconds_count{job="${JOB}",result="granted"}`);
  expect(granted.map((s) => s.value)).toEqual([2]);
  const memory = await prometheus.query(`process_resident_memory_bytes{job="${JOB}"}`);
  expect(memory[0]!.value).toBeGreaterThan(10_000_000);
  expect((await prometheus.query(`nodejs_eventloop_lag_seconds{job="${JOB}"}`)).length).toBe(1);
  expect((await prometheus.query(`process_open_fds{job="${JOB}"}`))[0]!.value).toBeGreaterThan(0);
});
