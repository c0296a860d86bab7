import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { serviceAliases } from '../support/hostile-operations.ts';
import { PROJECT_ROOT } from '../support/process.ts';
import { BOUNDARY, multipartBody, uploadParts, type RawPart } from '../support/raw-multipart.ts';
import { startStack, type Stack } from '../support/stack.ts';

// The README's table of request errors, row by row, against the server: every row has an example here, sent under
// both Accept headers of the GraphQL-over-HTTP spec, and the answer's status and code must be the row's.

const STRICT = 'application/graphql-response+json';
const LEGACY = 'application/json';
const API_KEY = 'request-error-table-key-0123456789';

interface Row {
  problem: string;
  strict: number;
  legacy: number;
  codes: string[];
}

async function readmeTable(): Promise<Row[]> {
  const readme = await readFile(`${PROJECT_ROOT}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## How errors come back'), readme.indexOf('## Reading and removing photos'));
  const header = section.indexOf('| problem |');
  expect(header).toBeGreaterThan(0);
  const lines = section.slice(header).split('\n');
  const rows: Row[] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    const [problem = '', strict = '', legacy = '', codes = ''] = line.slice(1, -1).split(' | ').map((c) => c.trim());
    rows.push({ problem, strict: Number(strict), legacy: Number(legacy), codes: [...codes.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!) });
  }
  return rows;
}

interface Answer {
  status: number;
  code: string | undefined;
}

interface Sent {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Writes the body in pieces and leaves the request open (an upload that goes quiet). */
  chunked?: boolean;
}

/** One request with node:http: every header is the test's own (an API key unless told otherwise). */
function send(stack: Stack, accept: string, sent: Sent): Promise<Answer> {
  const url = new URL(sent.path ?? '/graphql', stack.url);
  const body = typeof sent.body === 'string' ? Buffer.from(sent.body) : sent.body;
  const headers: Record<string, string> = {
    accept,
    'x-api-key': API_KEY,
    authorization: 'Zoho-oauthtoken emulator-token',
    ...(body && !sent.chunked ? { 'content-length': String(body.length) } : {}),
    ...sent.headers,
  };
  for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: sent.method ?? 'POST', headers, agent: false });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        let code: string | undefined;
        try {
          code = JSON.parse(Buffer.concat(chunks).toString('utf8')).errors?.[0]?.extensions?.code;
        } catch {
          code = undefined;
        }
        request.destroy();
        resolve({ status: response.statusCode ?? 0, code });
      });
    });
    request.on('error', reject);
    if (sent.chunked) request.write(body ?? '');
    else request.end(body);
  });
}

const json = (body: unknown, headers: Record<string, string> = {}): Sent => ({
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const multipart = (parts: RawPart[], headers: Record<string, string> = {}): Sent => ({
  headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'apollo-require-preflight': 'true', ...headers },
  body: multipartBody(parts),
});
const withFile = (map: unknown, operations?: unknown): RawPart[] => [
  ...uploadParts().filter((p) => p.name !== 'map').map((p) => (p.name === 'operations' && operations ? { ...p, value: JSON.stringify(operations) } : p)),
  { name: 'map', value: JSON.stringify(map) },
  { name: '0', filename: 'a.png', contentType: 'image/png', data: png(8, 8) },
];
const get = (query: string, headers: Record<string, string> = { 'apollo-require-preflight': 'true' }): Sent => ({
  method: 'GET',
  path: `/graphql?query=${encodeURIComponent(query)}`,
  headers,
});

interface Example {
  /** Words of the README row's problem that pick it out. */
  row: string;
  code: string;
  name: string;
  sent: Sent;
  /** Which gateway answers: the development one (with API keys), or production with GRAPHIQL=false. */
  on?: 'production';
}

const UPLOAD = 'mutation ($file: Upload!) { uploadRecordPhoto(module: LEADS, recordId: "1000000000001", file: $file) { __typename } }';
const DEEP = `{ crmRecord(module: LEADS, id: "1") { ${'... on CrmRecord { '.repeat(12)}id${' }'.repeat(12)} } }`;

const EXAMPLES: Example[] = [
  { row: 'malformed multipart', code: 'BAD_MULTIPART_REQUEST', name: 'a body that ends before its boundary', sent: { ...multipart(withFile({ 0: ['variables.file'] })), body: multipartBody(withFile({ 0: ['variables.file'] })).subarray(0, 200) } },
  { row: 'malformed multipart', code: 'BAD_MULTIPART_REQUEST', name: 'a map into query', sent: multipart(withFile({ 0: ['query'] })) },
  { row: 'malformed multipart', code: 'BAD_MULTIPART_REQUEST', name: 'a map into an undeclared variable', sent: multipart(withFile({ 0: ['variables.photo'] })) },
  { row: 'malformed multipart', code: 'BAD_MULTIPART_REQUEST', name: 'a map through a prototype', sent: multipart(withFile({ 0: ['variables.__proto__.x'] })) },
  { row: 'malformed multipart', code: 'BAD_MULTIPART_REQUEST', name: 'one file to two places', sent: multipart(withFile({ 0: ['variables.file', 'variables.file'] })) },
  { row: 'more than one file', code: 'PAYLOAD_TOO_LARGE', name: 'a JSON body over 1 MB', sent: json({ query: `{ __typename }${' '.repeat(1_100_000)}` }) },
  { row: 'more than one file', code: 'PAYLOAD_TOO_LARGE', name: 'an application/graphql body over 1 MB', sent: { headers: { 'content-type': 'application/graphql' }, body: `{ __typename }${' '.repeat(1_100_000)}` } },
  { row: 'more than one file', code: 'PAYLOAD_TOO_LARGE', name: 'an operations field of 100 kB', sent: multipart(withFile({ 0: ['variables.file'] }, { query: `${UPLOAD}${' '.repeat(100_000)}`, variables: { file: null } })) },
  { row: 'none of `multipart/form-data`', code: 'UNSUPPORTED_MEDIA_TYPE', name: 'multipart/mixed', sent: { headers: { 'content-type': 'multipart/mixed; boundary=x' }, body: '--x--' } },
  { row: 'none of `multipart/form-data`', code: 'UNSUPPORTED_MEDIA_TYPE', name: 'application/xml', sent: { headers: { 'content-type': 'application/xml' }, body: '<query/>' } },
  { row: 'without `Content-Length`', code: 'LENGTH_REQUIRED', name: 'chunked JSON', sent: { ...json({ query: '{ __typename }' }), chunked: true } },
  { row: 'without `Content-Length`', code: 'LENGTH_REQUIRED', name: 'chunked application/graphql', sent: { headers: { 'content-type': 'application/graphql' }, body: '{ __typename }', chunked: true } },
  {
    row: 'stops sending mid-upload',
    code: 'UPLOAD_TIMEOUT',
    name: 'an upload that goes quiet after its head',
    sent: {
      ...multipart(withFile({ 0: ['variables.file'] })),
      // The head and the start of the file, then nothing: the body declares far more.
      body: multipartBody(withFile({ 0: ['variables.file'] })).subarray(0, -100),
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'apollo-require-preflight': 'true', 'content-length': '100000' },
      chunked: true,
    },
  },
  { row: 'no preflight-forcing header', code: 'CSRF_PREVENTED', name: 'a GET', sent: get('{ __typename }', {}) },
  { row: 'no preflight-forcing header', code: 'CSRF_PREVENTED', name: 'a HEAD', sent: { ...get('{ __typename }', {}), method: 'HEAD' } },
  { row: 'no preflight-forcing header', code: 'CSRF_PREVENTED', name: 'a multipart POST', sent: { ...multipart(withFile({ 0: ['variables.file'] })), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } } },
  { row: 'no preflight-forcing header', code: 'CSRF_PREVENTED', name: 'a form POST', sent: { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B__typename%7D' } },
  { row: 'no preflight-forcing header', code: 'CSRF_PREVENTED', name: 'a text/plain POST', sent: { headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '{"query":"{ __typename }"}' } },
  { row: 'no preflight-forcing header', code: 'CSRF_PREVENTED', name: 'a POST with no Content-Type', sent: { body: '{"query":"{ __typename }"}' } },
  { row: 'no valid API key', code: 'UNAUTHENTICATED', name: 'no key', sent: json({ query: '{ __typename }' }, { 'x-api-key': '' }) },
  { row: 'a GraphQL syntax error', code: 'GRAPHQL_PARSE_FAILED', name: 'JSON', sent: json({ query: '{' }) },
  { row: 'a GraphQL syntax error', code: 'GRAPHQL_PARSE_FAILED', name: 'GET', sent: get('{') },
  { row: 'a GraphQL syntax error', code: 'GRAPHQL_PARSE_FAILED', name: 'application/graphql', sent: { headers: { 'content-type': 'application/graphql' }, body: '{' } },
  { row: 'does not validate', code: 'GRAPHQL_VALIDATION_FAILED', name: 'an unknown field', sent: json({ query: '{ nope }' }) },
  { row: 'does not validate', code: 'GRAPHQL_VALIDATION_FAILED', name: 'an unknown CrmModule literal', sent: json({ query: '{ crmRecord(module: LEAD, id: "1") { id } }' }) },
  { row: 'does not validate', code: 'GRAPHQL_VALIDATION_FAILED', name: 'GET', sent: get('{ nope }') },
  { row: 'does not validate', code: 'GRAPHQL_VALIDATION_FAILED', name: 'application/graphql', sent: { headers: { 'content-type': 'application/graphql' }, body: '{ nope }' } },
  { row: 'no `query` at all', code: 'BAD_REQUEST', name: 'JSON', sent: json({ variables: {} }) },
  { row: 'no `query` at all', code: 'BAD_REQUEST', name: 'GET', sent: { ...get(''), path: '/graphql' } },
  { row: 'no GraphQL request', code: 'BAD_REQUEST', name: 'invalid JSON', sent: json('{"query":') },
  { row: 'no GraphQL request', code: 'BAD_REQUEST', name: 'a batch', sent: json([{ query: '{ __typename }' }]) },
  { row: 'no GraphQL request', code: 'BAD_REQUEST', name: 'a query that is a number', sent: json({ query: 1 }) },
  { row: 'no GraphQL request', code: 'BAD_REQUEST', name: 'variables that are a string', sent: json({ query: '{ __typename }', variables: 'x' }) },
  { row: 'no GraphQL request', code: 'BAD_REQUEST', name: 'extensions that are a string', sent: json({ query: '{ __typename }', extensions: 'x' }) },
  { row: 'names no operation', code: 'OPERATION_RESOLUTION_FAILURE', name: 'JSON', sent: json({ query: 'query A { __typename }', operationName: 'B' }) },
  { row: 'a mutation over GET', code: 'BAD_REQUEST', name: 'a mutation over GET', sent: get('mutation { deleteRecordPhoto(module: LEADS, recordId: "1000000000001") { __typename } }') },
  { row: 'a mutation over GET', code: 'BAD_REQUEST', name: 'PUT', sent: { ...json({ query: '{ __typename }' }), method: 'PUT' } },
  { row: 'do not fit their declared types', code: 'BAD_USER_INPUT', name: 'an unknown CrmModule value', sent: json({ query: 'query ($m: CrmModule!) { crmRecord(module: $m, id: "1") { id } }', variables: { m: 'LEAD' } }) },
  { row: 'do not fit their declared types', code: 'BAD_USER_INPUT', name: 'a file variable left null', sent: json({ query: UPLOAD, variables: { file: null } }) },
  { row: 'past one of the `GRAPHQL_MAX_*` limits', code: 'MAX_TOKENS_EXCEEDED', name: 'tokens', sent: json({ query: `{ ${'__typename '.repeat(1_200)}}` }) },
  { row: 'past one of the `GRAPHQL_MAX_*` limits', code: 'MAX_ALIASES_EXCEEDED', name: 'aliases', sent: json({ query: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: crmRecord(module: LEADS, id: "${i}") { id }`).join(' ')} }` }) },
  { row: 'past one of the `GRAPHQL_MAX_*` limits', code: 'MAX_DEPTH_EXCEEDED', name: 'depth', sent: json({ query: DEEP }) },
  { row: 'past one of the `GRAPHQL_MAX_*` limits', code: 'MAX_DIRECTIVES_EXCEEDED', name: 'directives', sent: json({ query: `{ __typename ${'@skip(if: false) '.repeat(60)}}` }) },
  { row: 'asked for more than once', code: 'FIELD_REPEATED', name: '_service twice', sent: json({ query: serviceAliases(2) }) },
  { row: 'where introspection is off', code: 'INTROSPECTION_DISABLED', name: '__schema', sent: json({ query: '{ __schema { queryType { name } } }' }), on: 'production' },
  { row: "one of a type's lists inside another's", code: 'INTROSPECTION_TOO_DEEP', name: 'fields in fields', sent: json({ query: '{ __schema { types { fields { type { fields { name } } } } } }' }) },
  { row: 'an `_entities` representation', code: 'BAD_USER_INPUT', name: 'a representation that is a number', sent: json({ query: 'query ($r: [_Any!]!) { _entities(representations: $r) { __typename } }', variables: { r: [1] } }) },
];

let rows: Row[];
let development: Stack;
let production: Stack;

beforeAll(async () => {
  rows = await readmeTable();
  [development, production] = await Promise.all([
    startStack({ GATEWAY_API_KEYS: API_KEY, UPLOAD_IDLE_TIMEOUT_MS: '300' }),
    startStack({ NODE_ENV: 'production', GRAPHIQL: 'false', ZOHO_API_DOMAIN: 'http://127.0.0.1:9' }),
  ]);
});
afterAll(async () => {
  await Promise.all([development?.close(), production?.close()]);
});

function rowOf(words: string): Row {
  const matching = rows.filter((row) => row.problem.includes(words));
  expect(matching.map((row) => row.problem), `README rows with '${words}'`).toHaveLength(1);
  return matching[0]!;
}

describe("the README's request-error table", () => {
  it('has rows, and every row has an example here', () => {
    expect(rows.length).toBeGreaterThanOrEqual(15);
    for (const row of rows) {
      expect(EXAMPLES.filter((example) => row.problem.includes(example.row)), row.problem).not.toEqual([]);
    }
  });

  it.each(EXAMPLES.map((example) => [`${example.code}: ${example.name}`, example] as const))('%s', async (_name, example) => {
    const row = rowOf(example.row);
    expect(row.codes).toContain(example.code);
    const stack = example.on === 'production' ? production : development;
    const strict = await send(stack, STRICT, example.sent);
    const legacy = await send(stack, LEGACY, example.sent);
    // A HEAD answer has no body to carry a code.
    const expectedCode = example.sent.method === 'HEAD' ? undefined : example.code;
    expect(strict).toEqual({ status: row.strict, code: expectedCode });
    expect(legacy).toEqual({ status: row.legacy, code: expectedCode });
    // Anything, or no Accept header at all, reads like application/json.
    expect(await send(stack, '*/*', example.sent)).toEqual(legacy);
    expect(await send(stack, '', example.sent)).toEqual(legacy);
  });
});
