import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_REFRESH_TOKEN, type RequestLogEntry } from '../../emulator/state.ts';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { png } from '../fixtures/images.ts';
import { EmulatorControl } from '../support/emulator-control.ts';
import { freePort } from '../support/ports.ts';
import { NODE, start, type Started } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// Several replicas of one gateway in service mode, one CRM organisation, one Redis: real processes on loopback.
const CAP = 5;
const REPLICAS = 3;
const LEASE_MS = 3_000;
const API_KEY = 'replicas-test-key-0123456789';
const PHOTO = png(64, 48);

interface Replica {
  process: Started;
  url: string;
}

let redis: TestRedis;
let emulator: CrmEmulator;
let crm: EmulatorControl;
const replicas: Replica[] = [];

function gatewayEnv(redisUrl: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    ZOHO_API_DOMAIN: emulator.origin,
    ZOHO_ACCOUNTS_URL: emulator.origin,
    ZOHO_CLIENT_ID: EMULATOR_CLIENT_ID,
    ZOHO_CLIENT_SECRET: EMULATOR_CLIENT_SECRET,
    ZOHO_REFRESH_TOKEN: EMULATOR_REFRESH_TOKEN,
    GATEWAY_API_KEYS: API_KEY,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: 'replicas-test:',
    CRM_MAX_CONCURRENCY: String(CAP),
    CRM_REPLICAS: String(REPLICAS),
    CRM_SLOT_LEASE_MS: String(LEASE_MS),
    CRM_CONNECT_TIMEOUT_MS: '500',
    // Every upload comes from one API key and may wait its turn: the per-caller share and queue wait stay out of the way.
    CRM_MAX_CONCURRENCY_PER_CALLER: '100',
    CRM_QUEUE_TIMEOUT_MS: '30000',
  };
}

async function startReplica(redisUrl = redis.url, env: Record<string, string> = {}): Promise<Replica> {
  const process = start(NODE, ['src/main.ts'], { env: { ...gatewayEnv(redisUrl), ...env } });
  // Generous: three Node processes starting at once on a shared two-core machine.
  const url = (await process.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/, 45_000))[1]!;
  return { process, url };
}

const upload = (replica: Replica, recordId = '1000000000001') =>
  uploadPhoto(replica.url, { file: PHOTO, recordId, authorization: `Bearer ${API_KEY}` }).then(resultOf);

/** `count` uploads spread over `targets` in turn, all at once. */
const burst = (targets: Replica[], count: number) =>
  Promise.all(Array.from({ length: count }, (_, i) => upload(targets[i % targets.length]!, String(1_000_000_000_001 + (i % 10)))));

const isUpload = (entry: RequestLogEntry) => entry.method === 'POST' && entry.path.endsWith('/photo');

/** The most photo uploads the emulator had in flight at once, among those that arrived from `since` (epoch ms) on. */
function peakInFlight(log: RequestLogEntry[], since = 0): number {
  const events = log
    .filter((entry) => isUpload(entry) && entry.startedAt >= since)
    .flatMap((entry) => [
      [entry.startedAt, 1],
      [entry.endedAt ?? Number.POSITIVE_INFINITY, -1],
    ]);
  // An upload that ended in the same millisecond as another began is counted out first.
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let now = 0;
  let peak = 0;
  for (const [, change] of events) peak = Math.max(peak, (now += change!));
  return peak;
}

/** Ends the CRM's pause early (the test cannot wait out a Retry-After): its key, as the gateway names it, goes. */
async function clearPause(): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url);
  try {
    const keys = await client.keys('replicas-test:*:crm-paused-until');
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

/** The CRM slots taken in Redis right now, by every replica. */
async function slotsTaken(): Promise<number> {
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url);
  try {
    const keys = await client.keys('replicas-test:*:semaphore:crm-slots');
    const counts = await Promise.all(keys.map((key) => client.zcard(key)));
    return counts.reduce((sum, count) => sum + count, 0);
  } finally {
    client.disconnect();
  }
}

const mints = async () => (await crm.tokenRequests()).filter((request) => request.outcome === 'issued').length;

async function ready(replica: Replica): Promise<{ status: string; sharedBudget?: string }> {
  const response = await fetch(new URL('/health/ready', replica.url));
  expect(response.status).toBe(200);
  return (await response.json()) as { status: string; sharedBudget?: string };
}

/** Polls each replica's readiness probe (what an orchestrator reads) until its sharedBudget matches. */
async function untilBudget(targets: Replica[], pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(targets.map(ready));
    if (states.every((state) => pattern.test(state.sharedBudget ?? ''))) return;
    if (Date.now() > deadline) throw new Error(`readiness never matched ${pattern}: ${JSON.stringify(states)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  redis = await startRedis();
  emulator = await startCrmEmulator({ customModules: [] });
  crm = new EmulatorControl(emulator.origin);
  replicas.push(...(await Promise.all(Array.from({ length: REPLICAS }, () => startReplica()))));
  await untilBudget(replicas, /^shared/);
});

afterAll(async () => {
  await Promise.all(replicas.map((replica) => replica.process.stop('SIGKILL')));
  await emulator?.close();
  await redis?.stop();
});

describe('replicas sharing one CRM budget through Redis', () => {
  it('30 uploads over 3 replicas: the CRM never sees more than CRM_MAX_CONCURRENCY, all succeed, one token is minted', async () => {
    await crm.addFault({ kind: 'latency', delayMs: 1_000, times: 30 });
    const results = await burst(replicas, 30);
    expect(results.map((result) => result.__typename)).toEqual(Array(30).fill('UploadRecordPhotoSuccess'));
    const log = await crm.requests();
    expect(log.filter(isUpload)).toHaveLength(30);
    // Not one over the cap, and the cap reached: the budget is shared, not split.
    expect(peakInFlight(log)).toBe(CAP);
    // Since the three replicas started (their readiness probes asked for it too): one token, for all.
    expect(await mints()).toBe(1);
  });

  it('a 429 with Retry-After to one replica holds them all back: the others answer RateLimitedError with the seconds left', async () => {
    // A fourth replica takes the 429: it keeps its own pause whatever Redis says, so it leaves once the test is done.
    const struck = await startReplica();
    try {
      await untilBudget([struck], /^shared/);
      await crm.addFault({ kind: 'rate-limit', retryAfter: '20' });
      const limited = await upload(struck);
      expect(limited).toMatchObject({ __typename: 'RateLimitedError', code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 20 });
      const sent = (await crm.requests()).filter(isUpload).length;
      const held = await Promise.all([...replicas.map((replica) => upload(replica)), upload(struck)]);
      for (const result of held) {
        expect(result).toMatchObject({ __typename: 'RateLimitedError', code: 'TOO_MANY_REQUESTS' });
        expect(result.retryAfterSeconds).toBeGreaterThanOrEqual(18);
        expect(result.retryAfterSeconds).toBeLessThanOrEqual(20);
      }
      // Not one of them reached the CRM.
      expect((await crm.requests()).filter(isUpload)).toHaveLength(sent);
      // Redis loses the pause (restarted empty, say): the replica that heard the CRM itself still holds back.
      await clearPause();
      expect(await upload(struck)).toMatchObject({ __typename: 'RateLimitedError', code: 'TOO_MANY_REQUESTS' });
      expect((await crm.requests()).filter(isUpload)).toHaveLength(sent);
    } finally {
      await struck.process.stop('SIGKILL');
    }
  });

  it('an INVALID_TOKEN drops the shared token once: one upload fails, the next replicas get the one new token', async () => {
    await clearPause();
    const mintsBefore = await mints();
    const token = (await crm.requests()).filter(isUpload).at(-1)!.authorization!.replace('Zoho-oauthtoken ', '');
    await crm.expireToken(token);
    const [first, second, third] = replicas;
    expect(await upload(first!)).toMatchObject({ __typename: 'AuthenticationError', code: 'INVALID_TOKEN' });
    expect((await upload(second!)).__typename).toBe('UploadRecordPhotoSuccess');
    expect((await upload(third!)).__typename).toBe('UploadRecordPhotoSuccess');
    expect((await upload(first!)).__typename).toBe('UploadRecordPhotoSuccess');
    expect((await mints()) - mintsBefore).toBe(1);
  });

  it('a replica killed while it holds slots gives them back within CRM_SLOT_LEASE_MS: a new burst reaches the full cap again', async () => {
    // The doomed replica's uploads hang at the CRM, each holding a slot (the emulator is not reset: the replicas'
    // token must stay valid).
    await crm.addFault({ kind: 'latency', delayMs: 60_000, times: CAP });
    const doomed = replicas.pop()!;
    const hanging = Array.from({ length: CAP }, () => upload(doomed).catch(() => 'gone'));
    await crm.waitFor((log) => log.filter((entry) => isUpload(entry) && entry.endedAt === null).length === CAP, 15_000);
    await doomed.process.stop('SIGKILL');
    const killedAt = Date.now();
    await Promise.all(hanging);
    await crm.addFault({ kind: 'latency', delayMs: 1_000, times: 2 * CAP });
    const results = await burst(replicas, 2 * CAP);
    expect(results.map((result) => result.__typename)).toEqual(Array(2 * CAP).fill('UploadRecordPhotoSuccess'));
    const log = await crm.requests();
    const fresh = log.filter((entry) => isUpload(entry) && entry.startedAt >= killedAt);
    expect(peakInFlight(fresh)).toBe(CAP);
    // No new upload reached the CRM while the dead replica's leases ran; all of them once they had run out.
    const firstAt = Math.min(...fresh.map((entry) => entry.startedAt));
    expect(firstAt - killedAt).toBeGreaterThan(LEASE_MS / 2);
    expect(firstAt - killedAt).toBeLessThan(LEASE_MS + 2_000);
    // The orchestrator replaces it.
    replicas.push(await startReplica());
    await untilBudget(replicas, /^shared/);
  });

  it('Redis stopped mid-run: every upload succeeds on the local limits, the CRM never sees more than the cap; shared again once Redis is back', async () => {
    const mintsBefore = await mints();
    await crm.addFault({ kind: 'latency', delayMs: 1_000, times: 15 });
    const startedAt = Date.now();
    // One upload per replica first, so each holds a shared slot when Redis goes (each may then hold its own share).
    const first = burst(replicas, REPLICAS);
    await crm.waitFor((log) => log.filter((entry) => isUpload(entry) && entry.startedAt >= startedAt && entry.endedAt === null).length === REPLICAS, 15_000);
    const rest = burst(replicas, 15 - REPLICAS);
    await crm.waitFor((log) => log.filter((entry) => isUpload(entry) && entry.startedAt >= startedAt && entry.endedAt === null).length === CAP, 15_000);
    await redis.stop();
    const results = [...(await first), ...(await rest)];
    const tookMs = Date.now() - startedAt;
    // Every upload succeeds, none waited on Redis: 5 on the shared cap, then 10 on local limits of 1 per replica, 1 s each.
    expect(results.map((result) => result.__typename)).toEqual(Array(15).fill('UploadRecordPhotoSuccess'));
    expect(tookMs).toBeLessThan(15_000);
    // Across the failover the CRM never had more than the cap in flight: each replica counted the shared slots it
    // still held against its local limit of floor(5 / 3) = 1.
    expect(peakInFlight(await crm.requests(), startedAt)).toBeLessThanOrEqual(CAP);
    await untilBudget(replicas, /^unavailable: .*\(local limit 1\)$/);

    await redis.start();
    await untilBudget(replicas, /^shared/);
    await crm.addFault({ kind: 'latency', delayMs: 1_000, times: 30 });
    const sharedAgainAt = Date.now();
    const after = await burst(replicas, 30);
    expect(after.map((result) => result.__typename)).toEqual(Array(30).fill('UploadRecordPhotoSuccess'));
    // Shared, the CRM sees the cap, not three local limits.
    expect(peakInFlight(await crm.requests(), sharedAgainAt)).toBe(CAP);
    // The restarted Redis came back empty: one replica minted the token anew, for all.
    expect((await mints()) - mintsBefore).toBe(1);
  });

  it('a replica that stops gives its slots back to Redis before it closes the connection, and logs no Redis trouble', async () => {
    const leaving = await startReplica(redis.url, { SHUTDOWN_GRACE_MS: '0' });
    await untilBudget([leaving], /^shared/);
    const startedAt = Date.now();
    await crm.addFault({ kind: 'latency', delayMs: 60_000, times: 2 });
    const hanging = [upload(leaving).catch(() => 'cut'), upload(leaving).catch(() => 'cut')];
    await crm.waitFor((log) => log.filter((entry) => isUpload(entry) && entry.startedAt >= startedAt && entry.endedAt === null).length === 2, 15_000);
    expect(await slotsTaken()).toBe(2);
    expect(await leaving.process.stop('SIGTERM')).toBe(0);
    await Promise.all(hanging);
    expect(await slotsTaken()).toBe(0);
    expect(leaving.process.output()).not.toContain('Redis unavailable');
  });

  it('a REDIS_URL with a password: shared with the right one, refused with a wrong one, and the password never printed', async () => {
    const password = 'r3dis-secret-passw0rd';
    const guarded = await startRedis({ password });
    const started: Replica[] = [];
    try {
      const right = await startReplica(`redis://:${password}@127.0.0.1:${guarded.port}`);
      started.push(right);
      await untilBudget([right], /^shared/);
      expect((await upload(right)).__typename).toBe('UploadRecordPhotoSuccess');
      const wrong = await startReplica(`redis://:wrong-${password}@127.0.0.1:${guarded.port}`);
      started.push(wrong);
      await wrong.process.waitFor(/Redis unavailable \(Redis refused the credentials\)/);
      expect(await ready(wrong)).toEqual({ status: 'ready', sharedBudget: 'unavailable: Redis refused the credentials (local limit 1)' });
      for (const replica of started) expect(replica.process.output()).not.toContain(password);
    } finally {
      await Promise.all(started.map((replica) => replica.process.stop('SIGKILL')));
      await guarded.stop();
    }
  });

  it('starts with Redis unreachable, logs it, says so at /health/ready, and serves on its local limit', async () => {
    const nobody = await freePort();
    const lonely = await startReplica(`redis://127.0.0.1:${nobody}`);
    try {
      await lonely.process.waitFor(/Redis unavailable \(Redis unreachable \(ECONNREFUSED\)\)/);
      expect(lonely.process.output()).not.toContain(`127.0.0.1:${nobody}`);
      expect(await ready(lonely)).toEqual({ status: 'ready', sharedBudget: 'unavailable: Redis unreachable (ECONNREFUSED) (local limit 1)' });
      expect((await upload(lonely)).__typename).toBe('UploadRecordPhotoSuccess');
    } finally {
      await lonely.process.stop('SIGKILL');
    }
  });
});
