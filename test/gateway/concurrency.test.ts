import { afterEach, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../emulator/state.ts';
import { png } from '../fixtures/images.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

/** The most requests the CRM was handling at one moment, from its own log. */
function peakConcurrency(log: RequestLogEntry[]): number {
  const events = log.flatMap((r) => [
    { at: r.startedAt, delta: 1 },
    { at: r.endedAt ?? Number.MAX_SAFE_INTEGER, delta: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta); // an end and a start in the same ms: the end first
  let current = 0;
  let peak = 0;
  for (const event of events) peak = Math.max(peak, (current += event.delta));
  return peak;
}

// Every upload here comes from one caller (the demo token): its share of the slots is lifted so the global limit shows.
const ONE_CALLER_UNBOUNDED = { CRM_MAX_CONCURRENCY_PER_CALLER: '1000' };

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const uploadMany = (count: number) =>
  Promise.all(
    Array.from({ length: count }, (_, i) =>
      uploadPhoto(stack!.url, { file: png(8, 8), recordId: String(1_000_000_000_001 + (i % 10)) }).then(resultOf),
    ),
  );

describe('the CRM is protected from us', () => {
  it('never sees more than CRM_MAX_CONCURRENCY uploads; a full queue answers RateLimitedError at once', async () => {
    stack = await startStack({ ...ONE_CALLER_UNBOUNDED, CRM_MAX_CONCURRENCY: '2', CRM_MAX_QUEUE: '3', CRM_QUEUE_TIMEOUT_MS: '10000' });
    await stack.crm.addFault({ kind: 'latency', delayMs: 300, times: 0 });
    const results = await uploadMany(8);
    const byType = results.map((r) => r.__typename);
    expect(byType.filter((t) => t === 'UploadRecordPhotoSuccess')).toHaveLength(5);
    const refused = results.filter((r) => r.__typename === 'RateLimitedError');
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: expect.any(Number) });
    expect(refused[0]!.retryAfterSeconds as number).toBeGreaterThanOrEqual(1);
    const log = await stack.crm.requests();
    expect(log).toHaveLength(5);
    expect(peakConcurrency(log)).toBe(2);
  });

  it('a wait longer than CRM_QUEUE_TIMEOUT_MS answers RateLimitedError', async () => {
    stack = await startStack({ ...ONE_CALLER_UNBOUNDED, CRM_MAX_CONCURRENCY: '1', CRM_MAX_QUEUE: '10', CRM_QUEUE_TIMEOUT_MS: '200' });
    await stack.crm.addFault({ kind: 'latency', delayMs: 800, times: 0 });
    const results = await uploadMany(3);
    expect(results.map((r) => r.__typename).sort()).toEqual(['RateLimitedError', 'RateLimitedError', 'UploadRecordPhotoSuccess']);
    expect(results.find((r) => r.__typename === 'RateLimitedError')?.message).toMatch(/within 200 ms/);
    expect(await stack.crm.requests()).toHaveLength(1);
  });

  it('lets everything through, one slot at a time, when the queue is deep enough', async () => {
    stack = await startStack({ ...ONE_CALLER_UNBOUNDED, CRM_MAX_CONCURRENCY: '3', CRM_MAX_QUEUE: '50' });
    await stack.crm.addFault({ kind: 'latency', delayMs: 50, times: 0 });
    const results = await uploadMany(20);
    expect(results.every((r) => r.__typename === 'UploadRecordPhotoSuccess')).toBe(true);
    expect(peakConcurrency(await stack.crm.requests())).toBeLessThanOrEqual(3);
  });
});
