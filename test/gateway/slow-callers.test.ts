import { afterEach, describe, expect, it } from 'vitest';
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
    const attackers = [0, 1].map(() => slowUpload(stack!.url, { lead: LEAD, trickle: { bytes: 1, everyMs: 200 }, giveUpAfterMs: 6_000 }));
    await stack.crm.waitFor((log) => log.length === 2);
    const honest = resultOf(await uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000002' }));
    const results = await Promise.all(attackers);
    const held = await crmHoldTimes(stack);

    expect(honest.__typename).toBe('UploadRecordPhotoSuccess');
    for (const result of results) {
      timedOut(result);
      expect(result.elapsedMs).toBeLessThan(3_000);
    }
    // The CRM saw both slow requests aborted, each after about the 1 s window.
    expect(held.slice(0, 2).map((h) => h.state)).toEqual(['aborted', 'aborted']);
    for (const { heldMs } of held.slice(0, 2)) expect(heldMs).toBeLessThan(3_000);
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
    const result = await slowUpload(stack.url, { lead: LEAD, trickle: { bytes: 2048, everyMs: 100 }, giveUpAfterMs: 6_000 });
    timedOut(result);
    expect(result.json?.errors?.[0]?.message).toMatch(/2 s/);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(1_900);
    expect(result.elapsedMs).toBeLessThan(3_500);
    const held = await crmHoldTimes(stack);
    expect(held).toHaveLength(1);
    expect(held[0]!.state).toBe('aborted');
    expect(held[0]!.heldMs).toBeLessThan(3_000);
  });
});
