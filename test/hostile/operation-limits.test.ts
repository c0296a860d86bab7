import { afterAll, beforeAll, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { aliasName, jsonBody, postTimed, serviceAliases, timedHealth, type TimedAnswer } from '../support/hostile-operations.ts';
import { BOUNDARY, multipartBody } from '../support/raw-multipart.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';
import { MB, mb, rssBytes, startProcessStack, type ProcessStack } from './processes.ts';

// The review's operations, repeated against `node src/main.ts` in its own process: each is refused fast with a small
// answer, /health keeps answering, and the gateway's memory stays where it was. Before the operation limits, one
// 55,000-alias POST took 17-30 s, answered 340 MB and raised the gateway's RSS by 0.8-1.3 GB.

const ROUNDS = 20;
/** Peak RSS over the start while the attacks run; one unrefused 55,000-alias request alone costs ~1 GB. */
const PEAK = 150 * MB;
/** Heap used + external after GC, start → end: what the gateway still holds. */
const LIVE_GROWTH = 16 * MB;

let stack: ProcessStack;
let sampler: NodeJS.Timeout | undefined;
let peak = 0;

beforeAll(async () => {
  stack = await startProcessStack({}, { gcProbe: true });
  sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(stack.gatewayPid));
    } catch {
      // gone: the checks below say so
    }
  }, 20);
}, 30_000);

afterAll(async () => {
  clearInterval(sampler);
  await stack?.close();
});

const codeOf = (answer: TimedAnswer) => answer.json?.errors?.[0]?.extensions?.code;
const multipart = (operations: string, map = '{}', file?: Uint8Array) =>
  postTimed(
    stack.url,
    multipartBody([
      { name: 'operations', value: operations },
      { name: 'map', value: map },
      ...(file ? [{ name: '0', filename: 'photo.png', contentType: 'image/png', data: file }] : []),
    ]),
    { contentType: `multipart/form-data; boundary=${BOUNDARY}`, headers: { 'apollo-require-preflight': 'true', authorization: 'Zoho-oauthtoken emulator-token' } },
  );

const ATTACKS: [string, () => Promise<TimedAnswer>, string][] = [
  ['55,000 aliased _service { sdl } in a 1 MB JSON POST', () => postTimed(stack.url, jsonBody(serviceAliases(55_000))), 'MAX_TOKENS_EXCEEDED'],
  ['5,000 aliases in a multipart operations field', () => multipart(jsonBody(serviceAliases(5_000))), 'MAX_TOKENS_EXCEEDED'],
  ['15 aliases of _service { sdl } (within every other limit)', () => postTimed(stack.url, jsonBody(serviceAliases(15))), 'FIELD_REPEATED'],
  [
    'two uploads sharing one $file',
    () =>
      multipart(
        JSON.stringify({
          query: `mutation ($file: Upload!) { ${['1000000000001', '1000000000002'].map((id, i) => `${aliasName(i)}: uploadRecordPhoto(module: LEADS, recordId: "${id}", file: $file) { __typename }`).join(' ')} }`,
          variables: { file: null },
        }),
        '{"0":["variables.file"]}',
        png(64, 64),
      ),
    'FIELD_REPEATED',
  ],
  [
    'one file mapped into two variables',
    () =>
      multipart(
        JSON.stringify({
          query: 'mutation ($a: Upload!, $b: Upload!) { x: uploadRecordPhoto(module: LEADS, recordId: "1000000000001", file: $a) { __typename } y: uploadRecordPhoto(module: LEADS, recordId: "1000000000002", file: $b) { __typename } }',
          variables: { a: null, b: null },
        }),
        '{"0":["variables.a","variables.b"]}',
        png(64, 64),
      ),
    'BAD_MULTIPART_REQUEST',
  ],
  [
    'malformed _entities representations',
    () => postTimed(stack.url, jsonBody('query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }', { r: [{}, 1, { __typename: 'Spaceship' }] })),
    'BAD_USER_INPUT',
  ],
];

it(`refuses each of the review's operations ${ROUNDS} times over, fast and small, with /health answering and memory flat`, async () => {
  // Warm-up: every path compiled before the first measurement.
  for (const [, attack] of ATTACKS) await attack();
  expect(resultOf(await uploadPhoto(stack.url, { file: png(8, 8) })).__typename).toBe('UploadRecordPhotoSuccess');
  await stack.crm.reset();
  const start = await stack.memoryAfterGc();
  peak = start.rss;

  const slowest = new Map<string, number>();
  const health: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, attack, code] of ATTACKS) {
      const answer = attack();
      health.push((await timedHealth(stack.url)).ms);
      const refused = await answer;
      expect(refused.status, label).toBe(400);
      expect(codeOf(refused), label).toBe(code);
      expect(refused.bytes, label).toBeLessThan(1_024);
      slowest.set(label, Math.max(slowest.get(label) ?? 0, refused.ms));
    }
  }
  // Eight of the largest at once.
  const volley = await Promise.all(Array.from({ length: 8 }, () => postTimed(stack.url, jsonBody(serviceAliases(55_000)))));
  expect(volley.map((answer) => answer.status)).toEqual(Array(8).fill(400));

  const end = await stack.memoryAfterGc();
  const sorted = health.toSorted((a, b) => a - b);
  console.log(
    [
      `slowest refusal: ${[...slowest].map(([label, ms]) => `${label} ${ms.toFixed(0)} ms`).join('; ')}`,
      `/health while attacked: median ${sorted[sorted.length >> 1]!.toFixed(0)} ms, p95 ${sorted[Math.floor(sorted.length * 0.95)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`,
      `RSS start ${mb(start.rss)}, peak ${mb(peak)}, end ${mb(end.rss)}; live (heap + external) ${mb(start.heapUsed + start.external)} → ${mb(end.heapUsed + end.external)}`,
    ].join('\n'),
  );
  expect(await stack.crm.requests()).toEqual([]);
  for (const [label, ms] of slowest) expect(ms, label).toBeLessThan(2_000);
  expect(sorted[sorted.length >> 1]).toBeLessThan(200);
  expect(peak - start.rss).toBeLessThan(PEAK);
  expect(end.heapUsed + end.external - (start.heapUsed + start.external)).toBeLessThan(LIVE_GROWTH);
  expect(resultOf(await uploadPhoto(stack.url, { file: png(8, 8) })).__typename).toBe('UploadRecordPhotoSuccess');
}, 120_000);
