import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';

const NOT_YET = 'not connected yet';

/** Told when Redis comes or goes: the replicas share their CRM budget again, or each falls back to its own. */
export type SharedStateListener = (available: boolean, detail: string) => void;

/**
 * The keys this gateway keeps in Redis, as given to commands: the client adds REDIS_KEY_PREFIX and the organisation's
 * tag in front of every key (ioredis `keyPrefix`, which also covers the keys of redis-semaphore's scripts).
 */
export interface SharedKeys {
  /** redis-semaphore's sorted set of CRM slots held (it puts `semaphore:` in front: `<prefix><org>:semaphore:crm-slots`). */
  slots: string;
  /** redis-semaphore's mutex around the one token refresh (`<prefix><org>:mutex:token-refresh`). */
  refresh: string;
  /** The service-mode access token and its expiry, as JSON, with a TTL that ends with the token. */
  token: string;
  /** Epoch ms until which the CRM asked (429 + Retry-After) not to be sent work, with a TTL that ends then. */
  pausedUntil: string;
}

/**
 * Which CRM organisation the keys belong to, as a short hash: the CRM origin and, in service mode, the OAuth client.
 * Two gateways for two organisations that share one Redis (and forgot REDIS_KEY_PREFIX) still keep apart when their
 * clients differ; the client ID itself is not stored.
 */
export function organisationTag(crmOrigin: string, clientId: string | null): string {
  return createHash('sha256').update(`${crmOrigin}\n${clientId ?? ''}`).digest('hex').slice(0, 12);
}

export const SHARED_KEYS: SharedKeys = { slots: 'crm-slots', refresh: 'token-refresh', token: 'token', pausedUntil: 'crm-paused-until' };

/**
 * The one Redis connection of a gateway. Nothing ever waits on a Redis that is gone: no offline queue (a command
 * while disconnected fails at once), every command and connect attempt bounded by `timeoutMs`, and reconnection in the
 * background for as long as it takes. `available` says whether shared state can be used right now.
 */
export class SharedState {
  readonly client: Redis;
  readonly keys: SharedKeys = SHARED_KEYS;
  /** What every key starts with in Redis: REDIS_KEY_PREFIX, then the organisation's tag. */
  readonly keyPrefix: string;
  readonly #listeners: SharedStateListener[] = [];
  #available = false;
  /** Whether listeners have heard the first outcome (connected, or not) yet. */
  #told = false;
  #lastProblem = NOT_YET;
  /** Closing on purpose: the connection's end is not news (no "Redis unavailable" line on every stop). */
  #closing = false;

  constructor(options: { url: string; keyPrefix: string; organisation: string; timeoutMs: number }) {
    this.keyPrefix = `${options.keyPrefix}${options.organisation}:`;
    this.client = new Redis(options.url, {
      keyPrefix: this.keyPrefix,
      connectTimeout: options.timeoutMs,
      commandTimeout: options.timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep trying, at most every 2 s: the budget is shared again as soon as Redis is back.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      lazyConnect: true,
    });
    this.client.on('ready', () => this.#set(true, 'connected'));
    // ioredis emits 'error' for every failed attempt; the message (never the URL, which may hold a password) is kept.
    this.client.on('error', (error: Error) => {
      this.#lastProblem = describe(error);
      if (this.#available && this.client.status !== 'ready') this.#set(false, this.#lastProblem);
    });
    this.client.on('close', () => this.#set(false, this.#lastProblem === 'connected' ? 'connection closed' : this.#lastProblem));
  }

  /** Starts connecting; resolves once connected or once the first attempt failed: start-up never waits on Redis. */
  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (error) {
      // The 'error' event usually said why first (ECONNREFUSED, …); ioredis' own rejection only says it closed.
      if (this.#lastProblem === NOT_YET) this.#lastProblem = describe(error as Error);
      this.#set(false, this.#lastProblem);
    }
  }

  get available(): boolean {
    return this.#available;
  }

  /** Why shared state is not available (or `connected`). Never holds the URL. */
  get detail(): string {
    return this.#available ? 'connected' : this.#lastProblem;
  }

  onChange(listener: SharedStateListener): void {
    this.#listeners.push(listener);
  }

  /**
   * A command failed. One that timed out means a Redis that holds the connection open but answers nothing (frozen,
   * or a network that drops packets): the connection is dropped and made again, so until Redis answers again no
   * call waits a command timeout for it: the budget is local meanwhile, and /health/ready says so.
   */
  commandFailed(error: unknown): void {
    this.#lastProblem = describe(error as Error);
    if (this.#available && /timed? ?out/i.test((error as Error | undefined)?.message ?? '')) {
      this.#set(false, this.#lastProblem);
      this.client.disconnect(true);
    }
  }

  /**
   * Ends the connection once what was sent has been answered (QUIT), so the last releases reach Redis; a Redis that
   * is away or does not answer within the command timeout is simply dropped.
   */
  async close(): Promise<void> {
    this.#closing = true;
    try {
      if (this.client.status === 'ready') await this.client.quit();
    } catch {
      // already gone, or not answering: dropped below
    }
    this.client.disconnect(false);
  }

  #set(available: boolean, detail: string): void {
    if (!available) this.#lastProblem = detail;
    if (this.#closing || (available === this.#available && this.#told)) return;
    this.#told = true;
    this.#available = available;
    if (available) this.#lastProblem = 'connected';
    for (const listener of this.#listeners) listener(available, detail);
  }
}

/** An ioredis error in a few words, without the URL or anything it may carry. */
function describe(error: Error | undefined): string {
  const code = (error as { code?: string } | undefined)?.code;
  if (code) return `Redis unreachable (${code})`;
  const message = error?.message ?? 'unknown error';
  if (/timed? ?out/i.test(message)) return 'Redis did not answer in time';
  if (/NOAUTH|WRONGPASS|auth/i.test(message)) return 'Redis refused the credentials';
  return `Redis error (${message.slice(0, 80).replace(/redis(s)?:\/\/\S+/g, '[url]')})`;
}
