import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { QueueRefusedError } from '../../src/crm/concurrency-limit.ts';
import { SharedCrmBudget, type SharedBudgetOptions } from '../../src/crm/shared-budget.ts';
import { SharedState } from '../../src/crm/shared-state.ts';
import { SharedTokenStore } from '../../src/crm/shared-token.ts';
import type { MintedToken } from '../../src/crm/accounts-client.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

// A real redis-server on loopback: two SharedStates stand for two replicas of one gateway.
let redis: TestRedis;
let admin: Redis;
const opened: SharedState[] = [];
let organisation = 0;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  admin.on('error', () => {}); // the test stops Redis on purpose
});
afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((state) => state.close()));
});

/** `count` replicas of one organisation (a fresh one per test, so no test sees another's keys). */
async function replicas(count: number): Promise<SharedState[]> {
  organisation++;
  const states = Array.from(
    { length: count },
    () => new SharedState({ url: redis.url, keyPrefix: 'test-prefix:', organisation: `org${organisation}`, timeoutMs: 500 }),
  );
  opened.push(...states);
  await Promise.all(states.map((state) => state.connect()));
  return states;
}

const budget = (state: SharedState, options: Partial<SharedBudgetOptions> = {}) =>
  new SharedCrmBudget(state, { max: 3, maxQueue: 10, timeoutMs: 2_000, replicas: 2, leaseMs: 5_000, ...options });

/** Settles `promise` into a flag, to tell whether it has settled yet. */
function watch<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { settled: () => settled, promise };
}

/** Waits until `state` reports `available`, on its own change events. */
function availability(state: SharedState, available: boolean): Promise<void> {
  if (state.available === available) return Promise.resolve();
  return new Promise((resolve) => state.onChange((now) => now === available && resolve()));
}

describe('the CRM budget shared through Redis', () => {
  it('never lets two replicas hold more than CRM_MAX_CONCURRENCY slots together; a slot freed on one goes to a call waiting on the other', async () => {
    const [a, b] = await replicas(2);
    const onA = budget(a!);
    const onB = budget(b!);
    const held = [await onA.acquire(), await onA.acquire(), await onB.acquire()];
    const fourth = watch(onB.acquire());
    // A few Redis round trips later (each at least one poll of the waiting call), it still waits.
    for (let i = 0; i < 5; i++) await admin.ping();
    await new Promise((resolve) => setImmediate(resolve));
    expect(fourth.settled()).toBe(false);
    expect(onB.waiting).toBe(1);
    held[0]!();
    const release = await fourth.promise;
    expect(onB.active).toBe(2);
    // The keys sit under REDIS_KEY_PREFIX and the organisation's tag.
    expect(await admin.keys(`test-prefix:org${organisation}:*`)).toEqual([`test-prefix:org${organisation}:semaphore:crm-slots`]);
    release();
    held[1]!();
    held[2]!();
  });

  it('gives back, within the lease, a slot held by a replica that died holding it', async () => {
    const [dying, alive] = await replicas(2);
    const lease = 1_000;
    const gone = budget(dying!, { max: 1, leaseMs: lease });
    await gone.acquire(); // never released: the replica dies with it
    await dying!.close();
    const started = performance.now();
    const release = await budget(alive!, { max: 1, leaseMs: lease, timeoutMs: 4_000 }).acquire();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(lease * 0.8);
    expect(waited).toBeLessThan(lease + 1_500);
    release();
  });

  it('holds every replica back while the CRM asked one of them for a pause (429 Retry-After)', async () => {
    const [a, b] = await replicas(2);
    const onB = budget(b!);
    expect(await onB.pausedFor()).toBeNull();
    budget(a!).pause(30);
    // The pause is written in the background: wait for Redis to have it.
    for (let i = 0; i < 50 && (await admin.pttl(`test-prefix:org${organisation}:crm-paused-until`)) < 0; i++) await admin.ping();
    const left = await onB.pausedFor();
    expect(left).toBeGreaterThanOrEqual(29);
    expect(left).toBeLessThanOrEqual(30);
    // A shorter Retry-After later does not cut it short.
    budget(a!).pause(2);
    await admin.ping();
    expect(await onB.pausedFor()).toBeGreaterThanOrEqual(29);
  });

  it('runs on ceil(max / CRM_REPLICAS) while Redis is down, without waiting on it, and shares again once Redis is back', async () => {
    const [state] = await replicas(1);
    const limit = budget(state!, { max: 3, replicas: 2, timeoutMs: 300 });
    await redis.stop();
    await availability(state!, false);
    expect(limit.shared).toBe(false);
    const local = [await limit.acquire(), await limit.acquire()];
    await expect(limit.acquire()).rejects.toBeInstanceOf(QueueRefusedError);
    local.forEach((release) => release());
    await redis.start();
    await availability(state!, true);
    const release = await limit.acquire();
    expect(await admin.zcard(`test-prefix:org${organisation}:semaphore:crm-slots`)).toBe(1);
    release();
  });

  it('treats a Redis that stops answering (connection open) as gone within the command timeout, and as back once it answers', async () => {
    const [state] = await replicas(1);
    const limit = budget(state!, { max: 3, replicas: 2, timeoutMs: 5_000 });
    redis.freeze();
    try {
      const started = performance.now();
      const release = await limit.acquire();
      // The state's command timeout is 500 ms: the call waits for it once, then takes a local slot.
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(limit.shared).toBe(false);
      release();
      // From now on no call waits for the frozen Redis at all.
      const next = performance.now();
      (await limit.acquire())();
      expect(performance.now() - next).toBeLessThan(100);
    } finally {
      redis.thaw();
    }
    await availability(state!, true);
    expect(limit.shared).toBe(true);
  });
});

describe('the service token shared through Redis', () => {
  const token = (name: string): MintedToken => ({ accessToken: name, mintedAt: Date.now(), expiresAt: Date.now() + 3_600_000 });

  it('is refreshed once for replicas that need it at the same moment; the others read what it minted', async () => {
    const states = await replicas(3);
    const stores = states.map((state) => new SharedTokenStore(state, { refreshMs: 2_000 }));
    let mints = 0;
    const mint = async () => {
      mints++;
      await admin.ping();
      return token(`minted-${mints}`);
    };
    const got = await Promise.all(stores.map((store) => store.refresh(mint, () => true)));
    expect(mints).toBe(1);
    expect(got.map((t) => t.accessToken)).toEqual(['minted-1', 'minted-1', 'minted-1']);
    expect((await stores[2]!.read())?.accessToken).toBe('minted-1');
    // The key ends with the token.
    const ttl = await admin.pttl(`test-prefix:org${organisation}:token`);
    expect(ttl).toBeGreaterThan(3_500_000);
  });

  it('drops the token on INVALID_TOKEN once: a replica that read the old one leaves the new one alone', async () => {
    const [a, b] = await replicas(2);
    const onA = new SharedTokenStore(a!, { refreshMs: 2_000 });
    const onB = new SharedTokenStore(b!, { refreshMs: 2_000 });
    await onA.refresh(async () => token('old'), () => false);
    expect((await onB.read())?.accessToken).toBe('old');
    await onA.drop('old');
    expect(await onA.read()).toBeNull();
    await onA.refresh(async () => token('new'), () => false);
    await onB.drop('old'); // B's view is stale: its INVALID_TOKEN was for the old token
    expect((await onA.read())?.accessToken).toBe('new');
  });
});
