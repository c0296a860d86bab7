import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit, QueueRefusedError } from '../../src/crm/concurrency-limit.ts';

// CRM_MAX_CONCURRENCY_PER_CALLER: one caller's share of the CRM slots, counted over holders and waiters.

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function outcome(promise: Promise<() => void>): Promise<'granted' | 'refused' | 'pending'> {
  let state: 'granted' | 'refused' | 'pending' = 'pending';
  promise.then(
    () => (state = 'granted'),
    () => (state = 'refused'),
  );
  await settle();
  return state;
}

describe('ConcurrencyLimit: a share per caller', () => {
  it('refuses a caller past its share at once, even with slots free, and serves the others', async () => {
    const limit = new ConcurrencyLimit({ max: 5, maxQueue: 10, timeoutMs: 1_000, maxPerCaller: 2 });
    const a1 = await limit.acquire(undefined, 'a');
    await limit.acquire(undefined, 'a');
    await expect(limit.acquire(undefined, 'a')).rejects.toThrow(QueueRefusedError);
    await expect(limit.acquire(undefined, 'a')).rejects.toThrow(/this caller already has 2 calls to the CRM in flight or waiting/);
    expect(await outcome(limit.acquire(undefined, 'b'))).toBe('granted');
    expect(limit.active).toBe(3);
    // once one of its calls is done, the caller may take another
    a1();
    expect(await outcome(limit.acquire(undefined, 'a'))).toBe('granted');
  });

  it('counts waiters too, so one caller cannot fill the queue', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 10, timeoutMs: 1_000, maxPerCaller: 2 });
    const held = await limit.acquire(undefined, 'other');
    const waiting = [limit.acquire(undefined, 'a'), limit.acquire(undefined, 'a')];
    expect(await outcome(limit.acquire(undefined, 'a'))).toBe('refused');
    expect(limit.waiting).toBe(2);
    held();
    (await waiting[0]!)();
    (await waiting[1]!)();
    expect(limit.active).toBe(0);
    expect(await outcome(limit.acquire(undefined, 'a'))).toBe('granted');
  });

  it('gives a waiter that timed out or went away its place in the share back', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 10, timeoutMs: 50, maxPerCaller: 1 });
    const held = await limit.acquire(undefined, 'other');
    await expect(limit.acquire(undefined, 'a')).rejects.toThrow(/within 50 ms/);
    const controller = new AbortController();
    const leaving = limit.acquire(controller.signal, 'a');
    controller.abort();
    await expect(leaving).rejects.toThrow(/went away/);
    held();
    expect(await outcome(limit.acquire(undefined, 'a'))).toBe('granted');
  });

  it('gives a call refused by a full queue its place in the share back', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueue: 0, timeoutMs: 1_000, maxPerCaller: 1 });
    const held = await limit.acquire(undefined, 'other');
    await expect(limit.acquire(undefined, 'a')).rejects.toThrow(/in flight to the CRM and 0 are waiting/);
    held();
    expect(await outcome(limit.acquire(undefined, 'a'))).toBe('granted');
  });

  it('counts no share for calls that name no caller, or without maxPerCaller', async () => {
    const shared = new ConcurrencyLimit({ max: 3, maxQueue: 0, timeoutMs: 1_000, maxPerCaller: 1 });
    for (let i = 0; i < 3; i++) expect(await outcome(shared.acquire())).toBe('granted');
    const open = new ConcurrencyLimit({ max: 3, maxQueue: 0, timeoutMs: 1_000 });
    for (let i = 0; i < 3; i++) expect(await outcome(open.acquire(undefined, 'a'))).toBe('granted');
  });
});
