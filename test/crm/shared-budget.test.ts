import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { QueueRefusedError } from '../../src/crm/concurrency-limit.ts';
import { MAX_SHARED_PAUSE_S, SharedCrmBudget, type SharedBudgetOptions } from '../../src/crm/shared-budget.ts';
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
  // A test that stopped or froze Redis and failed midway leaves it as it found it for the next.
  redis.thaw();
  if (!redis.running) await redis.start();
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
    // A few round trips on B's own connection later (each after at least one poll of the waiting call), it still waits.
    for (let i = 0; i < 5; i++) await b!.client.ping();
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

  it('holds every replica back while the CRM asked one of them for a pause (429 Retry-After), in service mode', async () => {
    const [a, b] = await replicas(2);
    const onB = budget(b!, { sharePause: true });
    expect(await onB.pausedFor()).toBeNull();
    budget(a!, { sharePause: true }).pause(30);
    // The pause is written in the background, on A's connection: one more round trip on it and Redis has it.
    await a!.client.ping();
    const left = await onB.pausedFor();
    expect(left).toBeGreaterThanOrEqual(29);
    expect(left).toBeLessThanOrEqual(30);
    // A shorter Retry-After later does not cut it short.
    budget(a!, { sharePause: true }).pause(2);
    await a!.client.ping();
    expect(await onB.pausedFor()).toBeGreaterThanOrEqual(29);
  });

  it('shares a pause for at most 300 s, and the replica that got the 429 keeps its own pause whatever Redis says', async () => {
    const [a, b] = await replicas(2);
    const onA = budget(a!, { sharePause: true });
    onA.pause(86_400);
    await a!.client.ping();
    expect(await budget(b!, { sharePause: true }).pausedFor()).toBe(MAX_SHARED_PAUSE_S);
    // Redis lost the key (restarted empty, say): A still heard the CRM itself.
    await admin.del(`test-prefix:org${organisation}:crm-paused-until`);
    expect(await onA.pausedFor()).toBeGreaterThan(86_000);
  });

  it('in pass-through mode, pauses nobody on a 429: each caller brings its own organisation', async () => {
    const [a, b] = await replicas(2);
    const onA = budget(a!);
    onA.pause(30);
    await a!.client.ping();
    expect(await admin.exists(`test-prefix:org${organisation}:crm-paused-until`)).toBe(0);
    expect(await onA.pausedFor()).toBeNull();
    expect(await budget(b!).pausedFor()).toBeNull();
  });

  it('runs on floor(max / CRM_REPLICAS) while Redis is down, without waiting on it, and shares again once Redis is back', async () => {
    const [state] = await replicas(1);
    const limit = budget(state!, { max: 5, replicas: 2, timeoutMs: 300 });
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

describe('the CRM budget across a Redis failure and recovery', () => {
  const slots = () => admin.zcard(`test-prefix:org${organisation}:semaphore:crm-slots`);

  it('counts the shared slots a replica still holds in its local limit, and every call still running once Redis is back', async () => {
    const [a, b] = await replicas(2);
    // max 4, two replicas: a local limit of 2 each.
    const onA = budget(a!, { max: 4, timeoutMs: 300 });
    const onB = budget(b!, { max: 4, timeoutMs: 300 });
    const heldByA = [await onA.acquire(), await onA.acquire(), await onA.acquire()];
    const heldByB = [await onB.acquire()];
    await redis.stop();
    await Promise.all([availability(a!, false), availability(b!, false)]);
    // A's three calls still run: A takes no local slot until fewer than 2 do; B, holding 1, takes 1 more.
    await expect(onA.acquire()).rejects.toBeInstanceOf(QueueRefusedError);
    heldByB.push(await onB.acquire());
    await expect(onB.acquire()).rejects.toBeInstanceOf(QueueRefusedError);
    heldByA.splice(0, 2).forEach((release) => release());
    heldByA.push(await onA.acquire());
    await expect(onA.acquire()).rejects.toBeInstanceOf(QueueRefusedError);
    expect(onA.active + onB.active).toBe(4);

    // Redis comes back empty: the four calls still running are written into it before any new call asks.
    await redis.start();
    await Promise.all([availability(a!, true), availability(b!, true)]);
    await Promise.all([a!.client.ping(), b!.client.ping()]);
    expect(await slots()).toBe(4);
    await expect(onA.acquire()).rejects.toBeInstanceOf(QueueRefusedError);
    await expect(onB.acquire()).rejects.toBeInstanceOf(QueueRefusedError);
    heldByB.shift()!();
    heldByA.push(await onA.acquire());
    [...heldByA, ...heldByB].forEach((release) => release());
    await Promise.all([onA.settled(1_000), onB.settled(1_000)]);
    expect(await slots()).toBe(0);
  });

  it('writes back the entry of a call whose lease Redis lost, rather than letting it run unseen', async () => {
    const [a, b] = await replicas(2);
    const release = await budget(a!, { max: 1, leaseMs: 600 }).acquire();
    await admin.del(`test-prefix:org${organisation}:semaphore:crm-slots`);
    // The next renewal (every third of the lease) finds the entry gone and writes it again.
    while ((await slots()) === 0) await a!.client.ping();
    await expect(budget(b!, { max: 1, leaseMs: 600, timeoutMs: 300 }).acquire()).rejects.toBeInstanceOf(QueueRefusedError);
    release();
  });

  it('removes, once Redis answers again, the slot of an acquire whose answer was lost to the command timeout', async () => {
    const [state] = await replicas(1);
    const limit = budget(state!, { leaseMs: 30_000 });
    redis.freeze();
    try {
      (await limit.acquire())(); // on the local limit, after one command timeout
    } finally {
      redis.thaw();
    }
    await availability(state!, true);
    await state!.client.ping();
    expect(await slots()).toBe(0);
  });

  it('gives its slots back before the connection closes', async () => {
    const [state] = await replicas(1);
    const limit = budget(state!);
    const held = [await limit.acquire(), await limit.acquire()];
    expect(await slots()).toBe(2);
    held.forEach((release) => release());
    await limit.settled(1_000);
    await state!.close();
    expect(await slots()).toBe(0);
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
