import type { FaultSpec } from '../../emulator/faults.ts';
import type { RequestLogEntry } from '../../emulator/state.ts';

/** Drives the emulator through its HTTP control API, the way an outside process would. */
/** A stored photo, with what the emulator read of it: `dimensions` as `WxH`, EXIF `orientation` (null: no tag), `gps`. */
export interface StoredPhotoView {
  bytes: Buffer;
  contentType: string;
  filename: string;
  recordImage: string;
  dimensions: string;
  orientation: number | null;
  gps: boolean;
}

export class EmulatorControl {
  readonly origin: string;
  constructor(origin: string) {
    this.origin = origin;
  }

  async #call(method: string, path: string, body?: unknown): Promise<Response> {
    const response = await fetch(`${this.origin}/__emulator/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok && response.status !== 404) {
      throw new Error(`emulator control ${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    }
    return response;
  }

  async reset(): Promise<void> {
    await this.#call('POST', 'reset');
  }
  async addToken(token: string, scopes: string[], permission?: 'granted' | 'no-permission' | 'no-privilege') {
    await this.#call('POST', 'tokens', { token, scopes, permission });
  }
  async lock(module: string, recordId: string): Promise<void> {
    await this.#call('POST', 'locks', { module, recordId });
  }
  async addFault(fault: FaultSpec): Promise<void> {
    await this.#call('POST', 'faults', fault);
  }
  async accounts(settings: { accessTokenTtlSeconds?: number; maxTokensPerWindow?: number; windowSeconds?: number }) {
    await this.#call('POST', 'accounts', settings);
  }
  async revokeRefreshToken(refreshToken: string): Promise<void> {
    await this.#call('POST', 'refresh-tokens/revoke', { refreshToken });
  }
  async expireToken(token: string): Promise<void> {
    await this.#call('POST', 'tokens/expire', { token });
  }
  /** Calls to the accounts server's token endpoint (secrets only as hints). */
  async tokenRequests(): Promise<{ outcome: string }[]> {
    return (await (await this.#call('GET', 'token-requests')).json()) as { outcome: string }[];
  }
  async requests(): Promise<RequestLogEntry[]> {
    return (await (await this.#call('GET', 'requests')).json()) as RequestLogEntry[];
  }
  /** The stored photo's bytes, or null when the record has none. */
  async photo(
    module: string,
    recordId: string,
  ): Promise<StoredPhotoView | null> {
    const response = await this.#call('GET', `photos/${module}/${recordId}`);
    if (response.status === 404) return null;
    return {
      bytes: Buffer.from(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? '',
      filename: decodeURIComponent(response.headers.get('x-photo-filename') ?? ''),
      recordImage: response.headers.get('x-photo-record-image') ?? '',
      dimensions: response.headers.get('x-photo-dimensions') ?? '',
      orientation: response.headers.get('x-photo-orientation') ? Number(response.headers.get('x-photo-orientation')) : null,
      gps: response.headers.get('x-photo-gps') === 'true',
    };
  }
  /** Polls the request log until `predicate` holds, or fails after `timeoutMs`. */
  async waitFor(predicate: (log: RequestLogEntry[]) => boolean, timeoutMs = 5_000): Promise<RequestLogEntry[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const log = await this.requests();
      if (predicate(log)) return log;
      if (Date.now() > deadline) throw new Error(`emulator log never matched: ${JSON.stringify(log.slice(-3))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
