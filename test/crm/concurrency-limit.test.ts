import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConcurrencyLimit, QueueRefusedError } from '../../src/crm/concurrency-limit.ts';

const TIMEOUT_MS = 1_000;

/** A call to acquire, with what it has come to so far. */
interface Attempt {
  readonly state: 'pending' | 'granted' | 'refused';
  readonly release: () => void;
  readonly error: unknown;
}

function attempt(limit: ConcurrencyLimit, signal?: AbortSignal): Attempt {
  const result: { state: Attempt['state']; release?: () => void; error?: unknown } = { state: 'pending' };
  limit.acquire(signal).then(
    (release) => {
      result.state = 'granted';
      result.release = release;
    },
    (error: unknown) => {
      result.state = 'refused';
      result.error = error;
    },
  );
  return {
    get state() {
      return result.state;
    },
    get release() {
      if (!result.release) throw new Error(`no slot to release: the attempt is ${result.state}`);
      return result.release;
    },
    get error() {
      return result.error;
    },
  };
}

/** Lets settled promises run their callbacks, without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

const limitOf = (max: number, maxQueue: number) => new ConcurrencyLimit({ max, maxQueue, timeoutMs: TIMEOUT_MS });

/** How many of `count` fresh attempts get a slot at once: the free slots, when the queue is empty. */
async function freeSlots(limit: ConcurrencyLimit, count: number): Promise<Attempt[]> {
  const attempts = Array.from({ length: count }, () => attempt(limit));
  await settle();
  return attempts;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ConcurrencyLimit', () => {
  it('grants at most max slots at once; the rest wait', async () => {
    const limit = limitOf(2, 5);
    const attempts = await freeSlots(limit, 4);
    expect(attempts.map((a) => a.state)).toEqual(['granted', 'granted', 'pending', 'pending']);
  });

  it('hands a released slot to the waiters in the order they came', async () => {
    const limit = limitOf(1, 5);
    const holder = attempt(limit);
    const first = attempt(limit);
    const second = attempt(limit);
    const third = attempt(limit);
    await settle();
    expect([holder.state, first.state, second.state, third.state]).toEqual(['granted', 'pending', 'pending', 'pending']);

    holder.release();
    await settle();
    expect([first.state, second.state, third.state]).toEqual(['granted', 'pending', 'pending']);

    first.release();
    await settle();
    expect([second.state, third.state]).toEqual(['granted', 'pending']);

    second.release();
    await settle();
    expect(third.state).toBe('granted');
  });

  it('refuses at once when the queue is full', async () => {
    const limit = limitOf(1, 2);
    const attempts = await freeSlots(limit, 4);
    expect(attempts.map((a) => a.state)).toEqual(['granted', 'pending', 'pending', 'refused']);
    expect(attempts[3]!.error).toBeInstanceOf(QueueRefusedError);
    expect((attempts[3]!.error as Error).message).toBe('1 calls are in flight to the CRM and 2 are waiting');
  });

  it('refuses everyone past the holders when maxQueue is 0', async () => {
    const limit = limitOf(1, 0);
    const attempts = await freeSlots(limit, 2);
    expect(attempts.map((a) => a.state)).toEqual(['granted', 'refused']);
  });

  it('refuses a waiter after exactly timeoutMs, and the slot count stays right', async () => {
    const limit = limitOf(1, 5);
    const holder = attempt(limit);
    const waiter = attempt(limit);
    await settle();

    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
    expect(waiter.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(waiter.state).toBe('refused');
    expect(waiter.error).toBeInstanceOf(QueueRefusedError);
    expect((waiter.error as Error).message).toBe(`no slot to the CRM freed up within ${TIMEOUT_MS} ms`);

    holder.release();
    const after = await freeSlots(limit, 2);
    expect(after.map((a) => a.state)).toEqual(['granted', 'pending']);
  });

  it('never refuses a waiter that got its slot in time', async () => {
    const limit = limitOf(1, 5);
    const holder = attempt(limit);
    const waiter = attempt(limit);
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
    holder.release();
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS * 5);
    expect(waiter.state).toBe('granted');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('withdraws a waiter whose signal aborts; the next waiter still gets the slot', async () => {
    const limit = limitOf(1, 5);
    const holder = attempt(limit);
    const controller = new AbortController();
    const leaving = attempt(limit, controller.signal);
    const staying = attempt(limit);
    await settle();

    controller.abort();
    await settle();
    expect(leaving.state).toBe('refused');
    expect(leaving.error).toBeInstanceOf(QueueRefusedError);
    expect((leaving.error as Error).message).toBe('the caller went away');
    expect(staying.state).toBe('pending');
    expect(vi.getTimerCount()).toBe(1); // only the remaining waiter's queue timer

    holder.release();
    await settle();
    expect(staying.state).toBe('granted');
    // One slot, held by `staying`: nobody else gets in.
    const after = await freeSlots(limit, 1);
    expect(after[0]!.state).toBe('pending');
  });

  it('frees the queue place of a withdrawn waiter for the next caller', async () => {
    const limit = limitOf(1, 1);
    attempt(limit);
    const controller = new AbortController();
    const leaving = attempt(limit, controller.signal);
    const overflow = attempt(limit);
    await settle();
    expect(overflow.state).toBe('refused');

    controller.abort();
    const next = attempt(limit);
    await settle();
    expect(leaving.state).toBe('refused');
    expect(next.state).toBe('pending');
  });

  it('refuses a caller whose signal was already aborted, even with slots free, and takes no slot', async () => {
    const limit = limitOf(1, 5);
    const gone = attempt(limit, AbortSignal.abort());
    await settle();
    expect(gone.state).toBe('refused');
    expect((gone.error as Error).message).toBe('the caller went away');

    const after = await freeSlots(limit, 2);
    expect(after.map((a) => a.state)).toEqual(['granted', 'pending']);
  });

  it('ignores an abort after the slot was granted', async () => {
    const limit = limitOf(1, 5);
    const holder = attempt(limit);
    const controller = new AbortController();
    const waiter = attempt(limit, controller.signal);
    await settle();
    holder.release();
    await settle();
    expect(waiter.state).toBe('granted');

    controller.abort();
    const after = await freeSlots(limit, 1);
    expect(after[0]!.state).toBe('pending'); // the slot is still the waiter's
  });

  it('frees one slot only when a release function is called twice', async () => {
    const limit = limitOf(1, 5);
    const holder = attempt(limit);
    await settle();
    holder.release();
    holder.release();

    const after = await freeSlots(limit, 2);
    expect(after.map((a) => a.state)).toEqual(['granted', 'pending']);
  });

  it('hands one slot to one waiter only when a release function is called twice', async () => {
    const limit = limitOf(1, 5);
    const holder = attempt(limit);
    const first = attempt(limit);
    const second = attempt(limit);
    await settle();
    holder.release();
    holder.release();
    await settle();
    expect([first.state, second.state]).toEqual(['granted', 'pending']);

    first.release();
    await settle();
    expect(second.state).toBe('granted');
  });
});
