import { afterAll, beforeAll, expect, it } from 'vitest';
import { png, withPadding } from '../fixtures/images.ts';
import { socketLife } from '../support/raw-socket.ts';
import { slowUpload } from '../support/slow-client.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';
import { startProcessStack, type ProcessStack } from './processes.ts';

// The outside review's attacks, at the defaults (`node src/main.ts` with no limits set), at their own pace:
// ten connections that send a valid PNG header and then one byte every two seconds; sockets that never send a byte;
// keep-alive connections left idle. Each figure is printed, and bounded.

let stack: ProcessStack;
beforeAll(async () => {
  stack = await startProcessStack();
}, 30_000);
afterAll(async () => {
  await stack?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('ten callers dribbling a byte every two seconds hold the CRM slots for about the 30 s window, not for as long as they like', async () => {
  const started = performance.now();
  // Ten callers, each with a token of its own (the gateway cannot tell a made-up token from a real one), each past the look-ahead.
  const attackers = Array.from({ length: 10 }, (_, i) =>
    slowUpload(stack.url, {
      lead: withPadding(png(16, 16), 300 * 1024),
      trickle: { bytes: 1, everyMs: 2_000 },
      giveUpAfterMs: 75_000,
      recordId: String(1_000_000_000_001 + i),
      headers: { authorization: `Zoho-oauthtoken 1000.made-up-token-${i}` },
    }),
  );
  await stack.crm.waitFor((log) => log.length === 10, 10_000);
  // An honest caller tries every 5 s (each try waits in the queue up to CRM_QUEUE_TIMEOUT_MS, 10 s) until one gets through.
  let honestAfterMs: number | null = null;
  const honest: Promise<void>[] = [];
  while (honestAfterMs === null && performance.now() - started < 70_000) {
    honest.push(
      uploadPhoto(stack.url, { file: png(8, 8), recordId: '1000000000001' }).then((response) => {
        if (resultOf(response).__typename === 'UploadRecordPhotoSuccess') honestAfterMs ??= performance.now() - started;
      }),
    );
    await sleep(5_000);
  }
  await Promise.all(honest);
  const results = await Promise.all(attackers);
  const log = await stack.crm.requests();
  const held = log.filter((r) => r.authorization?.includes('made-up')).map((r) => (r.endedAt ?? Date.now()) - r.startedAt);
  console.info(
    `slot starvation at the defaults: attackers answered ${results.map((r) => r.status).join(',')} after ${results.map((r) => Math.round(r.elapsedMs / 1000)).join(',')} s; ` +
      `the CRM held their requests ${Math.round(Math.min(...held) / 1000)}–${Math.round(Math.max(...held) / 1000)} s; an honest upload got through after ${honestAfterMs === null ? 'never' : Math.round(honestAfterMs / 1000)} s`,
  );
  for (const result of results) {
    expect(result.status).toBe(408);
    expect(result.elapsedMs).toBeLessThan(40_000);
  }
  expect(Math.max(...held)).toBeLessThan(40_000);
  expect(honestAfterMs).not.toBeNull();
  expect(honestAfterMs!).toBeLessThan(45_000);
}, 90_000);

it('a socket that never sends a byte is closed after HEADERS_TIMEOUT_MS (15 s); an idle keep-alive one after 5 s', async () => {
  const [silent, keptAlive] = await Promise.all([
    socketLife(stack.url, () => {}, 40_000),
    socketLife(stack.url, (socket) => void socket.write('GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n'), 40_000),
  ]);
  console.info(`silent socket closed after ${silent.closedAfterMs === null ? 'more than 40 s' : `${Math.round(silent.closedAfterMs)} ms`}; idle keep-alive after ${Math.round(keptAlive.closedAfterMs ?? -1)} ms`);
  expect(silent.closedAfterMs).not.toBeNull();
  expect(silent.closedAfterMs!).toBeGreaterThanOrEqual(14_900);
  expect(silent.closedAfterMs!).toBeLessThan(17_000);
  expect(keptAlive.closedAfterMs).not.toBeNull();
  expect(keptAlive.closedAfterMs!).toBeGreaterThanOrEqual(5_000);
  expect(keptAlive.closedAfterMs!).toBeLessThan(7_500);
}, 60_000);
