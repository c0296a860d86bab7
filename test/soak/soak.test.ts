import { afterAll, beforeAll, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { MB, mb, openFds, rssBytes, settle, startProcessStack, type ProcessStack } from '../hostile/processes.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';
import { clientAgent, families, photoPath, plan, prepareEmulator, runPlanned, type Planned } from './mix.ts';

// A bounded soak on loopback: the CRM emulator and the gateway, each its own process, and thousands of mixed
// uploads at a concurrency of 32 from this process — successes of many sizes and formats and every failure
// family the emulator can produce. Every answer must be the typed member its family calls for; the gateway's
// RSS and open file descriptors, sampled between rounds, must level off.
//
// How a sample is taken, so that it measures what the gateway holds and not timing: the round's uploads drain;
// a burst of CONCURRENCY small uploads that the CRM holds for 100 ms refills both keep-alive pools (client →
// gateway, whose idle sockets the client keeps, and gateway → CRM) to CONCURRENCY connections, whatever the
// aborts and resets of the round closed; then the fds are counted and the RSS read twice — as is, and right
// after full GCs run in the gateway (a test-only preload, test/hostile/gc-probe.ts).
// Without the GC, RSS drifts up by tens of MB over a run as V8 sizes its heap to the allocation rate, and
// settles only later; with it, a leak of a few KB per upload stands out of the noise.

const SEED = 0x50a1_2024;
const UPLOADS = 3_000;
const CONCURRENCY = 32;
const ROUNDS = 20; // one sample after each round of UPLOADS / ROUNDS uploads
/** The hang family waits this long for its CRM_TIMEOUT; under load on 2 cores the emulator itself can stall ~1 s. */
const RESPONSE_TIMEOUT_MS = 2_500;

/** Growth allowed from the mean of the second quarter of samples (rounds 6–10) to that of the last (16–20). */
const RSS_GROWTH_BYTES = 50 * MB;
const RSS_GROWTH_RATIO = 0.2;
const HEAP_GROWTH_BYTES = 16 * MB;
const FD_GROWTH = 10;

let stack: ProcessStack;

beforeAll(async () => {
  stack = await startProcessStack(
    // Most of the mix is one token standing for many users: its share of the CRM slots is lifted.
    { CRM_MAX_CONCURRENCY: '32', CRM_MAX_CONCURRENCY_PER_CALLER: '1000', CRM_MAX_QUEUE: '200', CRM_RESPONSE_TIMEOUT_MS: String(RESPONSE_TIMEOUT_MS) },
    { gcProbe: true },
  );
  await prepareEmulator(stack.crm);
}, 30_000);

afterAll(async () => {
  await stack?.close();
});

interface Sample {
  round: number;
  done: number;
  seconds: number;
  /** RSS as it was, before the GC. */
  rawRss: number;
  rss: number;
  heapUsed: number;
  fds: number;
}

/** Uploads that take long (they wait on a timeout or a delay) go first in their round, so the round does not wait on them at its end. */
const SLOW = new Set(['CRM hangs', 'success after 100 ms CRM latency']);

it(`${UPLOADS} mixed uploads at concurrency ${CONCURRENCY}: typed answers throughout, RSS and fds level off`, async () => {
  const url = new URL(stack.url);
  const agent = clientAgent(CONCURRENCY);
  const requests = plan(SEED, UPLOADS);
  const perRound = UPLOADS / ROUNDS;
  const started = Date.now();
  const samples: Sample[] = [];
  const mismatches: string[] = [];
  const counts = new Map<string, number>();
  let done = 0;

  const runAll = async (queue: Planned[]) => {
    let next = 0;
    const worker = async () => {
      while (next < queue.length) {
        const problem = await runPlanned(url, queue[next++]!, agent);
        if (problem !== null) mismatches.push(problem);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  };
  // The CRM holds each of these 100 ms, so all CONCURRENCY are in flight at once and both pools fill up.
  const refill = requests.filter((r) => r.family.name === 'success after 100 ms CRM latency').slice(0, CONCURRENCY);
  expect(refill).toHaveLength(CONCURRENCY);

  const sample = async (round: number) => {
    await runAll(refill);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const fds = openFds(stack.gatewayPid);
    const rawRss = rssBytes(stack.gatewayPid);
    const memory = await stack.memoryAfterGc();
    samples.push({ round, done, seconds: (Date.now() - started) / 1000, rawRss, rss: memory.rss, heapUsed: memory.heapUsed, fds });
  };
  await sample(0);

  for (let round = 1; round <= ROUNDS; round++) {
    const queue = requests.slice((round - 1) * perRound, round * perRound);
    queue.sort((a, b) => Number(SLOW.has(b.family.name)) - Number(SLOW.has(a.family.name)));
    for (const { family } of queue) counts.set(family.name, (counts.get(family.name) ?? 0) + 1);
    await runAll(queue);
    done += queue.length;
    expect(stack.gateway.child.exitCode, stack.gateway.output().slice(-3_000)).toBeNull();
    await sample(round);
  }
  const seconds = (Date.now() - started) / 1000;

  // --- report --------------------------------------------------------------------------------------------------
  const quarter = (q: number) => samples.slice(1).slice(((q - 1) * ROUNDS) / 4, (q * ROUNDS) / 4);
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const [q2, q4] = [quarter(2), quarter(4)];
  const growth = (of: (s: Sample) => number) => mean(q4.map(of)) - mean(q2.map(of));
  const rssGrowth = growth((s) => s.rss);
  const heapGrowth = growth((s) => s.heapUsed);
  const fdGrowth = growth((s) => s.fds);
  console.log(
    `soak: ${UPLOADS} uploads in ${seconds.toFixed(1)} s (${(UPLOADS / seconds).toFixed(0)}/s) at concurrency ${CONCURRENCY}, seed ${SEED}\n` +
      families.map((f) => `  ${String(counts.get(f.name) ?? 0).padStart(5)}  ${f.name}`).join('\n') +
      `\n  round  uploads    time   RSS before GC  RSS after GC  heap used   fds\n` +
      samples
        .map(
          (s) =>
            `  ${String(s.round).padStart(5)}  ${String(s.done).padStart(7)}  ${s.seconds.toFixed(1).padStart(5)}s  ` +
            `${mb(s.rawRss).padStart(13)}  ${mb(s.rss).padStart(12)}  ${mb(s.heapUsed).padStart(9)}  ${String(s.fds).padStart(4)}`,
        )
        .join('\n') +
      `\n  rounds 6–10 → 16–20 (means): RSS after GC ${mb(mean(q2.map((s) => s.rss)))} → ${mb(mean(q4.map((s) => s.rss)))} ` +
      `(${mb(rssGrowth)}; bound ${mb(RSS_GROWTH_BYTES)} and ${RSS_GROWTH_RATIO * 100}%), heap used ${mb(heapGrowth)} (bound ${mb(HEAP_GROWTH_BYTES)}), ` +
      `fds ${mean(q2.map((s) => s.fds)).toFixed(1)} → ${mean(q4.map((s) => s.fds)).toFixed(1)} (${fdGrowth.toFixed(1)}; bound ${FD_GROWTH})`,
  );
  // --- every answer was the typed member its family calls for ------------------------------------------------
  expect(mismatches.slice(0, 10), `${mismatches.length} unexpected answers`).toEqual([]);
  for (const family of families) expect(counts.get(family.name) ?? 0, family.name).toBeGreaterThan(0);

  // --- the CRM saw what it should ---------------------------------------------------------------------------
  const log = await settle(() => stack.crm.requests(), (entries) => entries.every((e) => e.state !== 'receiving'), 5_000);
  expect(log.filter((e) => e.state === 'receiving'), 'CRM requests left open').toEqual([]);
  const neverCalled = new Set(requests.filter((r) => r.family.noCrmCall).map((r) => photoPath(r.args)));
  expect(log.filter((e) => neverCalled.has(e.path)).map((e) => e.path), 'refused before any CRM call').toEqual([]);
  const abortArgs = families.find((f) => f.expected === null)!.args((items) => items[0]!);
  const aborted = log.filter((e) => e.path === photoPath(abortArgs));
  expect(aborted.every((e) => e.state === 'aborted'), `client aborts must abort their CRM requests: ${aborted.map((e) => e.state).join()}`).toBe(true);
  expect(await stack.crm.photo('Contacts', abortArgs.recordId!)).toBeNull();

  // --- resources leveled off ---------------------------------------------------------------------------------
  expect(rssGrowth).toBeLessThan(RSS_GROWTH_BYTES);
  expect(rssGrowth / mean(q2.map((s) => s.rss))).toBeLessThan(RSS_GROWTH_RATIO);
  expect(heapGrowth).toBeLessThan(HEAP_GROWTH_BYTES);
  expect(fdGrowth).toBeLessThan(FD_GROWTH);

  // --- and it still serves -------------------------------------------------------------------------------------
  expect(resultOf(await uploadPhoto(stack.url, { file: png(8, 8) })).__typename).toBe('UploadRecordPhotoSuccess');
  agent.destroy();
}, 150_000);
