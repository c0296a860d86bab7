import { Mutex } from 'redis-semaphore';
import type { Redis } from 'ioredis';
import type { MintedToken } from './accounts-client.ts';
import type { SharedState } from './shared-state.ts';

/**
 * Deletes a key only while it still holds the value the caller read. redis-semaphore locks resources but has no
 * compare-and-delete of a plain value, and a GET then DEL would let a replica drop the token another had just minted.
 */
const COMPARE_AND_DELETE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

type WithCompareAndDelete = Redis & { compareAndDelete(key: string, expected: string): Promise<number> };

/**
 * The service-mode access token, shared by every replica through Redis: one key holding the token and its times,
 * with a TTL that ends when the token does (the only secret kept in Redis; the refresh token and client secret never
 * are). One replica refreshes it at a time, under a mutex whose lease frees it if that replica dies mid-refresh; the
 * others wait on the mutex and then read what it minted.
 */
export class SharedTokenStore {
  readonly #state: SharedState;
  readonly #client: WithCompareAndDelete;
  readonly #lockMs: number;
  /** The value last read or written, as stored: what `drop` compares with. */
  #lastRaw: string | null = null;

  /** `refreshMs`: the longest one refresh may take (the accounts server's timeout); the mutex outlives it a little. */
  constructor(state: SharedState, options: { refreshMs: number }) {
    this.#state = state;
    this.#lockMs = options.refreshMs + 2_000;
    const client = state.client as WithCompareAndDelete;
    if (typeof client.compareAndDelete !== 'function') client.defineCommand('compareAndDelete', { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
    this.#client = client;
  }

  get available(): boolean {
    return this.#state.available;
  }

  /** The shared token, or null when there is none (or it is unreadable). Throws when Redis fails. */
  async read(): Promise<MintedToken | null> {
    let raw: string | null;
    try {
      raw = await this.#client.get(this.#state.keys.token);
    } catch (error) {
      this.#state.commandFailed(error);
      throw error;
    }
    if (raw === null) return null;
    const token = parse(raw);
    if (token) this.#lastRaw = raw;
    return token;
  }

  /**
   * The token after one refresh across all replicas: under the mutex, the token is read again (another replica may
   * have just refreshed it) and minted only if `stillUsable` refuses it. Throws when Redis fails, or `mint` does.
   */
  async refresh(mint: () => Promise<MintedToken>, stillUsable: (token: MintedToken) => boolean): Promise<MintedToken> {
    const mutex = new Mutex(this.#client, this.#state.keys.refresh, {
      lockTimeout: this.#lockMs,
      acquireTimeout: this.#lockMs + 1_000,
      retryInterval: 25,
      // No renewal: the lease is longer than a refresh may take, and a renewal timer could fail on its own.
      refreshInterval: 0,
    });
    await mutex.acquire();
    try {
      const current = await this.read();
      if (current && stillUsable(current)) return current;
      const token = await mint();
      const raw = JSON.stringify(token);
      const ttlMs = token.expiresAt - Date.now();
      if (ttlMs > 0) {
        await this.#client.set(this.#state.keys.token, raw, 'PX', ttlMs);
        this.#lastRaw = raw;
      }
      return token;
    } finally {
      await mutex.release().catch((error: unknown) => this.#state.commandFailed(error));
    }
  }

  /**
   * The CRM answered INVALID_TOKEN for `accessToken`: the shared token goes, once, and only if it is still that one
   * (the replicas that hit the same answer after a new one was minted leave the new one alone).
   */
  async drop(accessToken: string): Promise<void> {
    const raw = this.#lastRaw;
    if (raw === null || parse(raw)?.accessToken !== accessToken) return;
    await this.#client.compareAndDelete(this.#state.keys.token, raw);
  }
}

function parse(raw: string): MintedToken | null {
  try {
    const value = JSON.parse(raw) as Partial<MintedToken>;
    if (typeof value.accessToken === 'string' && typeof value.mintedAt === 'number' && typeof value.expiresAt === 'number') {
      return { accessToken: value.accessToken, mintedAt: value.mintedAt, expiresAt: value.expiresAt };
    }
  } catch {
    // not ours: treated as no token
  }
  return null;
}
