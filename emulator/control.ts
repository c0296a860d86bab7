/**
 * The JSON control API under /__emulator/ that tests use to shape and inspect the emulator.
 *
 * Accounts server (OAuth) endpoints:
 * - POST refresh-tokens {refreshToken, clientId, clientSecret, scopes, permission?}: adds a client and refresh token;
 * - POST refresh-tokens/revoke {refreshToken}: the refresh token answers invalid_code from now on;
 * - GET accounts, POST accounts {accessTokenTtlSeconds?, maxTokensPerWindow?, windowSeconds?}: settings;
 * - POST tokens/expire {token}: the CRM answers 401 INVALID_TOKEN for that access token from now on;
 * - GET token-requests: the log of token-endpoint calls (secrets only as hints).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseFaultSpec } from './faults.ts';
import { secretHint, type AccountsSettings } from './accounts.ts';
import { PERMISSIONS, type EmulatorState, type Permission } from './state.ts';

export const CONTROL_PREFIX = '/__emulator/';

// Control bodies are small JSON documents; anything bigger is a mistake.
const MAX_CONTROL_BODY_BYTES = 1024 * 1024;

class ControlError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface ControlCall {
  readonly body: unknown;
  /** Capture groups of the route pattern, percent-decoded. */
  readonly params: readonly string[];
}

type Handler = (state: EmulatorState, call: ControlCall, res: ServerResponse) => void;

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

const ROUTES: readonly Route[] = [
  {
    pattern: /^reset$/,
    methods: {
      POST: (state, _call, res) => {
        state.reset();
        sendJson(res, 200, { ok: true });
      },
    },
  },
  {
    pattern: /^tokens$/,
    methods: {
      POST: (state, { body }, res) => {
        const input = object(body);
        const permission = input['permission'];
        if (permission !== undefined && !PERMISSIONS.includes(permission as Permission)) {
          throw new ControlError(400, `'permission' must be one of ${PERMISSIONS.join(', ')}, got ${JSON.stringify(permission)}`);
        }
        const grant = state.addToken({
          token: string(input, 'token'),
          scopes: strings(input, 'scopes'),
          permission: permission as Permission | undefined,
        });
        sendJson(res, 200, { ok: true, token: grant });
      },
    },
  },
  {
    pattern: /^tokens\/expire$/,
    methods: {
      POST: (state, { body }, res) => {
        const input = fields(body, ['token']);
        state.expireToken(string(input, 'token'));
        sendJson(res, 200, { ok: true });
      },
    },
  },
  {
    pattern: /^refresh-tokens$/,
    methods: {
      POST: (state, { body }, res) => {
        const input = fields(body, ['refreshToken', 'clientId', 'clientSecret', 'scopes', 'permission']);
        const permission = input['permission'];
        if (permission !== undefined && !PERMISSIONS.includes(permission as Permission)) {
          throw new ControlError(400, `'permission' must be one of ${PERMISSIONS.join(', ')}, got ${JSON.stringify(permission)}`);
        }
        const spec = {
          refreshToken: string(input, 'refreshToken'),
          clientId: string(input, 'clientId'),
          clientSecret: string(input, 'clientSecret'),
          scopes: strings(input, 'scopes'),
          permission: (permission as Permission | undefined) ?? 'granted',
        };
        state.addRefreshToken(spec);
        // Echoes everything but the secrets.
        sendJson(res, 200, {
          ok: true,
          refreshToken: { hint: secretHint(spec.refreshToken), clientId: spec.clientId, scopes: spec.scopes, permission: spec.permission },
        });
      },
    },
  },
  {
    pattern: /^refresh-tokens\/revoke$/,
    methods: {
      POST: (state, { body }, res) => {
        state.revokeRefreshToken(string(fields(body, ['refreshToken']), 'refreshToken'));
        sendJson(res, 200, { ok: true });
      },
    },
  },
  {
    pattern: /^accounts$/,
    methods: {
      GET: (state, _call, res) => sendJson(res, 200, state.accountsSettings),
      POST: (state, { body }, res) => {
        const settings = state.configureAccounts(object(body) as Partial<AccountsSettings>);
        sendJson(res, 200, { ok: true, settings });
      },
    },
  },
  {
    pattern: /^token-requests$/,
    methods: { GET: (state, _call, res) => sendJson(res, 200, state.tokenRequests) },
  },
  {
    pattern: /^locks$/,
    methods: {
      POST: (state, { body }, res) => {
        const input = object(body);
        state.lock(string(input, 'module'), string(input, 'recordId'));
        sendJson(res, 200, { ok: true });
      },
      DELETE: (state, { body }, res) => {
        const input = object(body);
        state.unlock(string(input, 'module'), string(input, 'recordId'));
        sendJson(res, 200, { ok: true });
      },
    },
  },
  {
    pattern: /^faults$/,
    methods: {
      POST: (state, { body }, res) => sendJson(res, 200, { ok: true, fault: state.addFault(parseFaultSpec(body)) }),
      GET: (state, _call, res) => sendJson(res, 200, state.faults),
    },
  },
  {
    pattern: /^requests$/,
    methods: { GET: (state, _call, res) => sendJson(res, 200, state.requests) },
  },
  {
    pattern: /^photos\/([^/]+)\/([^/]+)$/,
    methods: { GET: sendPhoto },
  },
];

export function isControlPath(pathname: string): boolean {
  return pathname.startsWith(CONTROL_PREFIX);
}

export function handleControlRequest(state: EmulatorState, req: IncomingMessage, res: ServerResponse): void {
  req.on('error', () => {});
  res.on('error', () => {});
  const url = new URL(req.url ?? '/', 'http://emulator.invalid');
  const rest = url.pathname.slice(CONTROL_PREFIX.length);
  const method = req.method ?? 'GET';
  let params: string[] = [];
  const route = ROUTES.find((r) => {
    const match = r.pattern.exec(rest);
    if (match !== null) params = match.slice(1);
    return match !== null;
  });
  if (route === undefined) {
    req.resume();
    return sendJson(res, 404, { error: `no control endpoint ${method} ${url.pathname}` });
  }
  const handler = route.methods[method];
  if (handler === undefined) {
    req.resume();
    const allowed = Object.keys(route.methods).join(', ');
    return sendJson(res, 405, { error: `${url.pathname} accepts ${allowed}, not ${method}` }, { allow: allowed });
  }
  readJson(req)
    .then((body) => handler(state, { body, params: params.map(decodeParam) }, res))
    .catch((error: unknown) => {
      if (error instanceof ControlError) return sendJson(res, error.status, { error: error.message });
      // State and fault validation throw TypeError/RangeError with a message naming the bad field.
      if (error instanceof TypeError || error instanceof RangeError) return sendJson(res, 400, { error: error.message });
      sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) });
    });
}

function decodeParam(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ControlError(400, `path segment ${JSON.stringify(segment)} is not valid percent-encoding`);
  }
}

function sendPhoto(state: EmulatorState, { params }: ControlCall, res: ServerResponse): void {
  const [moduleName = '', id = ''] = params;
  const photo = state.photo(moduleName, id);
  if (photo === undefined) return sendJson(res, 404, { error: `no photo stored for ${moduleName}/${id}` });
  res.writeHead(200, {
    'content-type': photo.contentType,
    'content-length': photo.bytes.length,
    'x-photo-filename': encodeURIComponent(photo.filename ?? ''),
    'x-photo-restrict-triggers': photo.restrictTriggers ?? '',
    'x-photo-record-image': photo.recordImage,
    // The CRM's own reading of what it stored (image-size for the pixels, its own EXIF reader for the rest).
    'x-photo-dimensions': photo.width === undefined ? '' : `${photo.width}x${photo.height}`,
    'x-photo-orientation': photo.orientation == null ? '' : String(photo.orientation),
    'x-photo-gps': photo.gps ? 'true' : 'false',
  });
  res.end(photo.bytes);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const payload = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length });
  res.end(payload);
}

/** Reads a JSON body; an empty body reads as undefined. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_CONTROL_BODY_BYTES) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_CONTROL_BODY_BYTES) {
        return reject(new ControlError(413, `control body is ${size} bytes; the limit is ${MAX_CONTROL_BODY_BYTES}`));
      }
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new ControlError(400, `control body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ControlError(400, `expected a JSON object body, got ${JSON.stringify(body) ?? 'nothing'}`);
  }
  return body as Record<string, unknown>;
}

/** The body as an object with only the given keys. */
function fields(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  const input = object(body);
  const unknown = Object.keys(input).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new ControlError(400, `unknown field '${unknown[0]}' (expected ${allowed.join(', ')})`);
  }
  return input;
}

function string(input: Record<string, unknown>, key: string): string {
  const value = input[key];
  if (typeof value !== 'string' || value === '') {
    throw new ControlError(400, `'${key}' must be a non-empty string, got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

function strings(input: Record<string, unknown>, key: string): string[] {
  const value = input[key];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ControlError(400, `'${key}' must be an array of strings, got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}
