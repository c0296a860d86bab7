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

/** A token answer is a few hundred bytes; past this the answer is no token answer, and reading stops. */
export const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

/**
 * What an access token may be to go in `Authorization: Zoho-oauthtoken <token>`: visible ASCII, no spaces, of a sane
 * length. Anything else (CR/LF, non-Latin-1 letters) could not be sent, or would split the header: it is refused
 * before it is cached, rather than fail every upload until it expires.
 */
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]{1,4096}$/;

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
      text = await readCapped(response.body, MAX_TOKEN_ANSWER_BYTES);
    } catch (error) {
      if (error instanceof AccountsError) throw error;
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

/** The body as text, or an AccountsError once it runs past `maxBytes` (the connection is then closed). */
async function readCapped(body: AsyncIterable<unknown> & { destroy(error?: Error): unknown }, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) {
      body.destroy();
      throw new AccountsError(`the accounts server answered more than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function parseTokenAnswer(status: number, text: string): MintedToken {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AccountsError(`the accounts server answered HTTP ${status} with no JSON`);
  }
  if (typeof json.access_token === 'string' && json.access_token !== '') {
    // Never echo the token itself: say only what is wrong with it.
    if (!HEADER_SAFE_TOKEN.test(json.access_token)) {
      throw new AccountsError('the accounts server answered an access token that cannot be sent in a header (not visible ASCII, or too long)');
    }
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
