/**
 * The soak's traffic: families of uploads (successes of many sizes and formats, and every failure the emulator
 * can produce), each with the typed member it must be answered with, and a seeded plan mixing them.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import type { FaultSpec } from '../../emulator/faults.ts';
import { bmp, gif, jpeg, pdf, png, textFile, withPadding } from '../fixtures/images.ts';
import { seededRandom } from '../hostile/processes.ts';
import type { EmulatorControl } from '../support/emulator-control.ts';
import { BOUNDARY, multipartBody, uploadParts } from '../support/raw-multipart.ts';
import { resultOf, type GraphQLResponse, type UploadArgs } from '../support/upload-client.ts';

// ---------------------------------------------------------------------------------------------------------------
// The families: what to send, and the union member (and code) that must come back.

export interface Family {
  name: string;
  weight: number;
  /** null: the client aborts mid-upload and no answer is expected. */
  expected: { __typename: string; code?: string; reason?: string } | null;
  /** A CRM request is never opened for this family (checked on the emulator's log by its record). */
  noCrmCall?: boolean;
  args(pick: <T>(items: readonly T[]) => T): UploadArgs;
}

const SUCCESS = { __typename: 'UploadRecordPhotoSuccess' };
const crmService = (code: string) => ({ __typename: 'CrmServiceError', code });
const rejected = (code: string, reason: string) => ({ __typename: 'PhotoRejectedError', code, reason });
export const SEEDED = (n: number) => String(1_000_000_000_000 + n);

// Successes: 1 KB to 2 MB, log-uniformly spread, in all four formats (built once, reused).
const sizes = Array.from({ length: 12 }, (_, i) => Math.round(1024 * Math.pow(2048, i / 11)));
const bases = [png(120, 80), jpeg(64, 48), gif(40, 30), bmp(32, 24)];
const successFiles = sizes.flatMap((size) => bases.map((base) => withPadding(base, Math.max(size, base.length))));
const smallFile = withPadding(png(20, 20), 4 * 1024);
const mediumFile = withPadding(jpeg(64, 64), 256 * 1024);
const oversizeFile = withPadding(png(64, 64), 10 * 1024 * 1024 + 4096);
const pixelBomb = png(5_000, 3_000);
const abortFile = withPadding(png(64, 64), 1_500_000);

// Emulator setup: faults that match one Deals record each (times 0 = every time), tokens, a lock.
const faults: { record: string; fault: FaultSpec }[] = [
  { record: SEEDED(1), fault: { kind: 'internal-error' } },
  { record: SEEDED(2), fault: { kind: 'rate-limit', retryAfter: '7' } },
  { record: SEEDED(3), fault: { kind: 'html', status: 502 } },
  { record: SEEDED(4), fault: { kind: 'empty-body', status: 200 } },
  { record: SEEDED(5), fault: { kind: 'reset-mid-body', afterBytes: 16 * 1024 } },
  { record: SEEDED(6), fault: { kind: 'early-reject', status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token' } },
  { record: SEEDED(7), fault: { kind: 'latency', delayMs: 100 } },
  { record: SEEDED(8), fault: { kind: 'hang' } },
];
const deals = (n: number) => ({ module: 'DEALS', recordId: SEEDED(n) });

export const families: Family[] = [
  { name: 'success, 1 KB–2 MB', weight: 52, expected: SUCCESS, args: (pick) => ({ file: pick(successFiles), module: pick(['LEADS', 'CONTACTS']), recordId: SEEDED(pick([1, 2, 3, 4, 5])) }) },
  { name: 'success after 100 ms CRM latency', weight: 3, expected: SUCCESS, args: () => ({ file: smallFile, ...deals(7) }) },
  { name: 'CRM INTERNAL_ERROR', weight: 3, expected: crmService('INTERNAL_ERROR'), args: () => ({ file: smallFile, ...deals(1) }) },
  { name: 'CRM 429', weight: 3, expected: { __typename: 'RateLimitedError', code: 'TOO_MANY_REQUESTS' }, args: () => ({ file: smallFile, ...deals(2) }) },
  { name: 'CRM HTML 502 page', weight: 2, expected: crmService('UNEXPECTED_RESPONSE'), args: () => ({ file: smallFile, ...deals(3) }) },
  { name: 'CRM empty 200', weight: 2, expected: crmService('UNEXPECTED_RESPONSE'), args: () => ({ file: smallFile, ...deals(4) }) },
  { name: 'CRM resets mid-body', weight: 3, expected: crmService('CRM_UNREACHABLE'), args: () => ({ file: mediumFile, ...deals(5) }) },
  { name: 'CRM answers 401 before the body is read', weight: 2, expected: { __typename: 'AuthenticationError', code: 'INVALID_TOKEN' }, args: () => ({ file: mediumFile, ...deals(6) }) },
  { name: 'CRM hangs', weight: 1, expected: crmService('CRM_TIMEOUT'), args: () => ({ file: smallFile, ...deals(8) }) },
  { name: 'record locked', weight: 3, expected: { __typename: 'RecordLockedError', code: 'RECORD_LOCKED' }, args: () => ({ file: smallFile, module: 'ACCOUNTS', recordId: SEEDED(9) }) },
  { name: 'token scoped to contacts.READ', weight: 3, expected: { __typename: 'PermissionDeniedError', code: 'OAUTH_SCOPE_MISMATCH' }, args: () => ({ file: smallFile, module: 'ACCOUNTS', recordId: SEEDED(1), authorization: 'Zoho-oauthtoken soak-contacts-read' }) },
  { name: 'token without permission', weight: 2, expected: { __typename: 'PermissionDeniedError', code: 'NO_PERMISSION' }, args: () => ({ file: smallFile, module: 'ACCOUNTS', recordId: SEEDED(2), authorization: 'Bearer soak-no-permission' }) },
  { name: 'unknown token', weight: 2, expected: { __typename: 'AuthenticationError', code: 'INVALID_TOKEN' }, args: () => ({ file: smallFile, module: 'ACCOUNTS', recordId: SEEDED(3), authorization: 'Zoho-oauthtoken not-a-token' }) },
  { name: 'no credentials', weight: 2, noCrmCall: true, expected: { __typename: 'AuthenticationError', code: 'MISSING_CREDENTIALS' }, args: () => ({ file: smallFile, module: 'CONTACTS', recordId: SEEDED(6), authorization: null }) },
  { name: 'unknown record', weight: 3, expected: { __typename: 'InvalidRecordError', code: 'INVALID_DATA' }, args: () => ({ file: smallFile, module: 'LEADS', recordId: '9999999999999' }) },
  { name: 'invalid record id', weight: 2, noCrmCall: true, expected: { __typename: 'InvalidRecordError', code: 'INVALID_RECORD_ID' }, args: (pick) => ({ file: smallFile, module: 'LEADS', recordId: pick(['abc', '12345678901234567890', '-1', '1e9', ' 1']) }) },
  { name: 'unsupported bytes', weight: 3, noCrmCall: true, expected: rejected('UNSUPPORTED_IMAGE_FORMAT', 'UNSUPPORTED_FORMAT'), args: (pick) => ({ file: pick([pdf(), textFile('not an image, honestly'), new Uint8Array(300_000)]), module: 'CONTACTS', recordId: SEEDED(7) }) },
  { name: 'too many pixels', weight: 1, noCrmCall: true, expected: rejected('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', 'TOO_MANY_PIXELS'), args: () => ({ file: pixelBomb, module: 'CONTACTS', recordId: SEEDED(8) }) },
  { name: 'empty file', weight: 1, noCrmCall: true, expected: rejected('EMPTY_FILE', 'EMPTY'), args: () => ({ file: new Uint8Array(0), module: 'CONTACTS', recordId: SEEDED(9) }) },
  { name: 'over 10 MiB', weight: 1, expected: rejected('FILE_SIZE_MORE_THAN_ALLOWED_SIZE', 'TOO_MANY_BYTES'), args: () => ({ file: oversizeFile, module: 'LEADS', recordId: SEEDED(10) }) },
  { name: 'client aborts mid-upload', weight: 3, expected: null, args: () => ({ file: abortFile, module: 'CONTACTS', recordId: SEEDED(10) }) },
];

export interface Planned {
  family: Family;
  args: UploadArgs;
  /** For the abort family: how many body bytes go out before the client walks away. */
  abortAfter: number;
}

/** The seeded plan: which family each of `uploads` requests belongs to, and its arguments. */
export function plan(seed: number, uploads: number): Planned[] {
  const random = seededRandom(seed);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const total = families.reduce((sum, f) => sum + f.weight, 0);
  return Array.from({ length: uploads }, () => {
    let roll = random() * total;
    const family = families.find((f) => (roll -= f.weight) < 0) ?? families[0]!;
    return { family, args: family.args(pick), abortAfter: 64 * 1024 + Math.floor(random() * 1_000_000) };
  });
}

const MODULE_API_NAMES: Record<string, string> = { LEADS: 'Leads', CONTACTS: 'Contacts', ACCOUNTS: 'Accounts', DEALS: 'Deals' };
export const photoPath = (args: UploadArgs) => `/crm/v7/${MODULE_API_NAMES[args.module ?? 'LEADS']}/${encodeURIComponent(args.recordId ?? '')}/photo`;


/** Tokens, a lock and the faults the families rely on. */
export async function prepareEmulator(crm: EmulatorControl): Promise<void> {
  await crm.reset();
  await crm.addToken('soak-contacts-read', ['ZohoCRM.modules.contacts.READ']);
  await crm.addToken('soak-no-permission', ['ZohoCRM.modules.all'], 'no-permission');
  await crm.lock('Accounts', SEEDED(9));
  for (const { record, fault } of faults) {
    await crm.addFault({ ...fault, times: 0, match: { module: 'Deals', recordId: record } });
  }
}

/** Sends the first `abortAfter` bytes of an upload, then destroys the socket: a client that walks away. */
export async function abortedUpload(url: URL, args: UploadArgs, abortAfter: number): Promise<void> {
  const body = multipartBody([
    ...uploadParts({ module: args.module, recordId: args.recordId }),
    { name: '0', filename: 'gone.png', contentType: 'image/png', data: args.file },
  ]);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `Content-Length: ${body.length}\r\nAuthorization: Zoho-oauthtoken emulator-token\r\napollo-require-preflight: true\r\n\r\n`,
  );
  await new Promise<void>((resolve) => socket.write(body.subarray(0, abortAfter), () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 5));
  socket.destroy();
}

/**
 * The client's connections: keep-alive, at most `maxSockets` of them, all kept when idle — so at any quiet
 * moment the gateway holds exactly as many client connections as the last burst needed, not a number that
 * depends on which idle ones a pool happened to drop.
 */
export function clientAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** The upload as a browser's FormData would send it (operations, map, then the file), over `agent`. */
export function upload(url: URL, args: UploadArgs, agent: Agent): Promise<GraphQLResponse> {
  const body = multipartBody([
    ...uploadParts({ module: args.module ?? 'LEADS', recordId: args.recordId ?? SEEDED(1) }),
    { name: '0', filename: args.filename ?? 'soak.png', contentType: args.clientContentType ?? 'application/octet-stream', data: args.file },
  ]);
  const authorization = args.authorization === undefined ? 'Zoho-oauthtoken emulator-token' : args.authorization;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': String(body.length),
        'apollo-require-preflight': 'true',
        ...(authorization === null ? {} : { authorization }),
      },
    });
    req.on('error', reject);
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as GraphQLResponse['body'] });
        } catch {
          reject(new Error(`HTTP ${response.statusCode}, not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.end(body);
  });
}

/** Runs one planned request; returns a description of what was wrong with its answer, or null. */
export async function runPlanned(url: URL, { family, args, abortAfter }: Planned, agent: Agent): Promise<string | null> {
  try {
    if (family.expected === null) {
      await abortedUpload(url, args, abortAfter);
      return null;
    }
    const result = resultOf(await upload(url, args, agent));
    const { expected } = family;
    const mismatch =
      result.__typename !== expected.__typename ||
      (expected.code !== undefined && result['code'] !== expected.code) ||
      (expected.reason !== undefined && result['reason'] !== expected.reason);
    return mismatch ? `${family.name}: wanted ${JSON.stringify(expected)}, got ${JSON.stringify(result).slice(0, 300)}` : null;
  } catch (error) {
    return `${family.name}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 400);
  }
}
