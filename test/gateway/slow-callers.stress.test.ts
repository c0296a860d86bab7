import { afterEach, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN } from '../../emulator/accounts.ts';
import { png, withPadding } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { slowUpload, type SlowUploadResult } from '../support/slow-client.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// Callers that keep an upload open without moving it along: they must not hold the CRM's slots for long.
// Timeouts here are scaled down (a 1 s window instead of 30 s) so the attacks play out in seconds.

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A valid PNG header and enough bytes after it to fill the gateway's look-ahead: the upload is on its way to the CRM. */
const LEAD = withPadding(png(16, 16), 300 * 1024);

const timedOut = (result: SlowUploadResult) => {
  expect(result.status).toBe(408);
  expect(result.json?.errors?.[0]?.extensions?.code).toBe('UPLOAD_TIMEOUT');
};

/** How long the CRM held each request open (from its own log), still-open ones counted up to now. */
async function crmHoldTimes(target: Stack): Promise<{ state: string; heldMs: number }[]> {
  const now = Date.now();
  return (await target.crm.requests()).map((r) => ({ state: r.state, heldMs: (r.endedAt ?? now) - r.startedAt }));
}

describe('UPLOAD_MIN_BYTES_PER_SECOND: uploads must keep moving', () => {
  it('callers that dribble a byte at a time lose their slots within the window, and an honest upload gets through', async () => {
    stack = await startStack({
      CRM_MAX_CONCURRENCY: '2',
      CRM_MAX_CONCURRENCY_PER_CALLER: '10',
      CRM_QUEUE_TIMEOUT_MS: '4000',
      UPLOAD_IDLE_TIMEOUT_MS: '1000',
      UPLOAD_MIN_BYTES_PER_SECOND: '1024',
    });
    // Two callers take both slots, then send one byte every 200 ms: never idle for 1 s, far below 1 KiB/s.
    const attackers = [0, 1].map(() => slowUpload(stack!.url, { lead: LEAD, trickle: { bytes: 1, everyMs: 200 }, giveUpAfterMs: 10_000 }));
    await stack.crm.waitFor((log) => log.length === 2);
    const honest = resultOf(await uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000002' }));
    const results = await Promise.all(attackers);
    const held = await crmHoldTimes(stack);

    expect(honest.__typename).toBe('UploadRecordPhotoSuccess');
    for (const result of results) {
      timedOut(result);
      // About the 1 s window; without the floor they hold on until they give up (10 s). The bound leaves room for a busy machine.
      expect(result.elapsedMs).toBeLessThan(6_000);
    }
    // The CRM saw both slow requests aborted, each after about the 1 s window.
    expect(held.slice(0, 2).map((h) => h.state)).toEqual(['aborted', 'aborted']);
    for (const { heldMs } of held.slice(0, 2)) expect(heldMs).toBeLessThan(6_000);
  });

  it('a client just above the floor, with pauses inside the window, still gets its photo uploaded', async () => {
    stack = await startStack({ UPLOAD_IDLE_TIMEOUT_MS: '1000', UPLOAD_MIN_BYTES_PER_SECOND: '1024' });
    const file = withPadding(png(16, 16), 6_000);
    const body = multipartBody([...uploadParts(), { name: '0', filename: 'slow.png', contentType: 'image/png', data: file }]);
    const fileStart = body.indexOf(Buffer.from(file.subarray(0, 16)));
    const response = await postRaw(stack.url, {
      headers: { 'content-length': String(body.length) },
      write: async (request) => {
        request.write(body.subarray(0, fileStart));
        // 1,500 bytes every 900 ms: about 1.6 KiB/s, each pause shy of the idle timeout.
        for (let offset = fileStart; offset < body.length; offset += 1_500) {
          request.write(body.subarray(offset, offset + 1_500));
          await sleep(900);
        }
        request.end();
      },
    });
    expect(response.json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: file.length } });
  });
});

describe('UPLOAD_MAX_SECONDS: a ceiling on one upload', () => {
  it('a caller above the floor but never finishing is cut at the ceiling, and its CRM request aborted', async () => {
    stack = await startStack({ UPLOAD_IDLE_TIMEOUT_MS: '1000', UPLOAD_MIN_BYTES_PER_SECOND: '1024', UPLOAD_MAX_SECONDS: '2' });
    // 2 KiB every 100 ms: 20 KiB/s, well above the floor; a 10 MB body at that pace would take over eight minutes.
    const result = await slowUpload(stack.url, { lead: LEAD, trickle: { bytes: 2048, everyMs: 100 }, giveUpAfterMs: 10_000 });
    timedOut(result);
    expect(result.json?.errors?.[0]?.message).toMatch(/2 s/);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(1_900);
    expect(result.elapsedMs).toBeLessThan(6_000); // without the ceiling: until it gives up (10 s)
    const held = await crmHoldTimes(stack);
    expect(held).toHaveLength(1);
    expect(held[0]!.state).toBe('aborted');
    expect(held[0]!.heldMs).toBeLessThan(6_000);
  });
});

describe('slots are taken as late as streaming allows', () => {
  it('a caller that sends a valid header and then stalls holds no CRM slot', async () => {
    stack = await startStack({
      CRM_MAX_CONCURRENCY: '1',
      CRM_QUEUE_TIMEOUT_MS: '1000',
      UPLOAD_IDLE_TIMEOUT_MS: '3000',
      UPLOAD_MIN_BYTES_PER_SECOND: '0',
    });
    // A PNG header and 1 KiB, then a byte every 500 ms: the sniffer is satisfied, the look-ahead never fills.
    const stalling = slowUpload(stack.url, { lead: withPadding(png(16, 16), 1024), trickle: { bytes: 1, everyMs: 500 }, giveUpAfterMs: 2_500 });
    await sleep(300);
    const honest = resultOf(await uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000002' }));
    const held = await crmHoldTimes(stack);
    await stalling;
    expect(honest.__typename).toBe('UploadRecordPhotoSuccess');
    // The CRM only ever saw the honest upload.
    expect(held).toHaveLength(1);
    expect(held[0]!.state).toBe('answered');
  });
});

describe('CRM_MAX_CONCURRENCY_PER_CALLER: one caller cannot take every slot', () => {
  const OTHER_TOKEN = 'another-callers-token';

  it('pass-through: a caller past its share is refused at once, and another caller still gets a slot', async () => {
    stack = await startStack({
      CRM_MAX_CONCURRENCY: '3',
      CRM_MAX_CONCURRENCY_PER_CALLER: '2',
      CRM_QUEUE_TIMEOUT_MS: '1000',
      UPLOAD_IDLE_TIMEOUT_MS: '5000',
      UPLOAD_MIN_BYTES_PER_SECOND: '0',
    });
    await stack.crm.addToken(OTHER_TOKEN, ['ZohoCRM.modules.ALL']);
    // One caller opens three slow uploads, each past the look-ahead; the same token as Bearer is the same caller.
    const hogHeaders: Record<string, string>[] = [{}, {}, { authorization: 'Bearer emulator-token' }];
    const hog = hogHeaders.map((headers, i) =>
      slowUpload(stack!.url, { lead: LEAD, trickle: { bytes: 1024, everyMs: 100 }, giveUpAfterMs: 2_500, recordId: String(1_000_000_000_003 + i), headers }),
    );
    await stack.crm.waitFor((log) => log.length >= 2);
    await sleep(300);
    const other = resultOf(await uploadPhoto(stack.url, { file: png(8, 8), authorization: `Zoho-oauthtoken ${OTHER_TOKEN}` }));
    const hogResults = await Promise.all(hog);

    expect(other.__typename).toBe('UploadRecordPhotoSuccess');
    const refused = hogResults.filter((r) => r.json?.data?.uploadRecordPhoto?.__typename === 'RateLimitedError');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.json?.data?.uploadRecordPhoto).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      message: expect.stringContaining('this caller already has 2 calls'),
      retryAfterSeconds: expect.any(Number),
    });
    expect(refused[0]!.elapsedMs).toBeLessThan(2_000); // at once, not after waiting in the queue
    // The other two kept their slots until they gave up.
    expect(hogResults.filter((r) => r.status === null)).toHaveLength(2);
  });

  it('service mode: each API key is a caller of its own', async () => {
    const keyA = 'service-caller-a-0123456789';
    const keyB = 'service-caller-b-0123456789';
    stack = await startStack({
      ZOHO_CLIENT_ID: EMULATOR_CLIENT_ID,
      ZOHO_CLIENT_SECRET: EMULATOR_CLIENT_SECRET,
      ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
      GATEWAY_API_KEYS: `${keyA},${keyB}`,
      CRM_MAX_CONCURRENCY: '2',
      CRM_MAX_CONCURRENCY_PER_CALLER: '1',
      CRM_QUEUE_TIMEOUT_MS: '1000',
      UPLOAD_IDLE_TIMEOUT_MS: '5000',
      UPLOAD_MIN_BYTES_PER_SECOND: '0',
    });
    const asA = { authorization: '', 'x-api-key': keyA };
    const first = slowUpload(stack.url, { lead: LEAD, trickle: { bytes: 1024, everyMs: 100 }, giveUpAfterMs: 2_000, headers: asA });
    await stack.crm.waitFor((log) => log.length === 1);
    // The same key as Bearer, with a junk x-api-key beside it, is still caller A.
    // Refused after the 1 s queue timeout; the client waits longer than that for the answer, even on a busy machine.
    const second = await slowUpload(stack.url, {
      lead: LEAD,
      trickle: { bytes: 1024, everyMs: 100 },
      giveUpAfterMs: 5_000,
      headers: { authorization: `Bearer ${keyA}`, 'x-api-key': 'not-a-key-at-all-0123456789' },
    });
    const body = multipartBody([...uploadParts({ recordId: '1000000000002' }), { name: '0', filename: 'b.png', contentType: 'image/png', data: png(8, 8) }]);
    const asB = await postRaw(stack.url, { body, headers: { authorization: '', 'x-api-key': keyB } });
    await first;
    expect(second.json?.data?.uploadRecordPhoto).toMatchObject({ __typename: 'RateLimitedError', code: 'TOO_MANY_REQUESTS' });
    expect(asB.json?.data?.uploadRecordPhoto?.__typename).toBe('UploadRecordPhotoSuccess');
  });
});
