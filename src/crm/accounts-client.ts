import { Agent } from 'undici';

export interface MintedToken {
  accessToken: string;
  /** Epoch milliseconds. */
  mintedAt: number;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** A refresh that did not yield a token. Its message never holds a secret. */
export class AccountsError extends Error {
  override name = 'AccountsError';
}

export interface RefreshRequest {
  accountsUrl: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

const OAUTH_ERRORS: Record<string, string> = {
  invalid_client: 'the client ID or secret is wrong',
  invalid_code: 'the refresh token is invalid or revoked',
  unsupported_grant_type: 'the accounts server refused the refresh grant',
};

/** Mints access tokens with the OAuth refresh-token grant. Secrets travel in the form body, never in a URL. */
export class AccountsClient {
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  constructor(options: { connectTimeoutMs: number; responseTimeoutMs: number }) {
    this.#timeoutMs = options.responseTimeoutMs;
    this.#agent = new Agent({
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.responseTimeoutMs,
    });
  }

  async refresh(request: RefreshRequest): Promise<MintedToken> {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: request.clientId,
      client_secret: request.clientSecret,
      refresh_token: request.refreshToken,
    });
    let status: number;
    let text: string;
    try {
      const response = await this.#agent.request({
        origin: request.accountsUrl,
        path: '/oauth/v2/token',
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const code = (error as { code?: string }).code ?? (error instanceof Error ? error.name : 'error');
      throw new AccountsError(`the accounts server could not be reached (${code})`);
    }
    return parseTokenAnswer(status, text);
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  async destroy(): Promise<void> {
    await this.#agent.destroy();
  }
}

function parseTokenAnswer(status: number, text: string): MintedToken {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AccountsError(`the accounts server answered HTTP ${status} with no JSON`);
  }
  if (typeof json.access_token === 'string' && json.access_token !== '') {
    const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 3600;
    const mintedAt = Date.now();
    return { accessToken: json.access_token, mintedAt, expiresAt: mintedAt + expiresIn * 1000 };
  }
  const error = typeof json.error === 'string' ? json.error : null;
  if (status === 400 && error === 'Access Denied') {
    throw new AccountsError('the accounts server refuses to mint more tokens for now (too many requests)');
  }
  if (error !== null && OAUTH_ERRORS[error]) throw new AccountsError(`${error}: ${OAUTH_ERRORS[error]}`);
  throw new AccountsError(`the accounts server answered HTTP ${status} without a token`);
}
