import { readFileSync } from 'node:fs';
import { Lexer, Source, TokenKind } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { startProcessStack, type ProcessStack } from '../hostile/processes.ts';
import {
  aliasName,
  GRAPHIQL_INTROSPECTION,
  jsonBody,
  postTimed,
  serviceAliases,
  timedHealth,
  type TimedAnswer,
} from '../support/hostile-operations.ts';
import { BOUNDARY, multipartBody, postRaw } from '../support/raw-multipart.ts';
import { startStack, useStack } from '../support/stack.ts';

// Operation limits, checked before anything executes: the review's amplification attacks get a fast, small 400, and
// every operation a client, a router or GraphiQL sends still goes through.

const codeOf = (answer: { json: TimedAnswer['json'] }) => answer.json?.errors?.[0]?.extensions?.code;

function tokenCount(document: string): number {
  const lexer = new Lexer(new Source(document));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count++;
  return count;
}

describe("the review's amplification, against the gateway in its own process", () => {
  let stack: ProcessStack;
  beforeAll(async () => {
    stack = await startProcessStack();
  }, 30_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('a 1 MB JSON POST of 55,000 aliased `_service { sdl }` gets a fast 400 with a small answer; /health answers meanwhile', async () => {
    const body = jsonBody(serviceAliases(55_000));
    expect(body.length).toBeGreaterThan(900_000);
    expect(body.length).toBeLessThan(1_000_000); // under the JSON body limit: the operation itself must be refused
    const attack = () => postTimed(stack.url, body, { timeoutMs: 10_000 });
    await attack(); // warm-up: the first request of a process also compiles the code it runs
    // Each round: the attack, and the health check sent while it is in flight.
    const healthMs: number[] = [];
    for (let round = 0; round < 3; round++) {
      const answer = attack();
      const health = await timedHealth(stack.url);
      expect(health.status).toBe(200);
      healthMs.push(health.ms);
      const refused = await answer;
      expect(refused.status).toBe(400);
      expect(codeOf(refused)).toBe('MAX_TOKENS_EXCEEDED');
      expect(refused.bytes).toBeLessThan(1_024);
      expect(refused.ms).toBeLessThan(5_000);
    }
    // Before the limits: a 340 MB answer after 17-30 s, and /health waited 12-25 s. The bounds sit far below those
    // figures and far above what a busy two-core machine adds, so they tell the two apart without timing the code.
    expect(healthMs.toSorted((a, b) => a - b)[1]).toBeLessThan(1_000);
    expect(Math.max(...healthMs)).toBeLessThan(3_000);
  });

  it('5,000 aliases in a multipart `operations` field (under its 100 kB cap) get the same 400, and no CRM call', async () => {
    await stack.crm.reset();
    const operations = jsonBody(serviceAliases(5_000));
    expect(operations.length).toBeLessThan(100_000);
    const answer = await postTimed(stack.url, multipartBody([{ name: 'operations', value: operations }, { name: 'map', value: '{}' }]), {
      contentType: `multipart/form-data; boundary=${BOUNDARY}`,
      headers: { 'apollo-require-preflight': 'true' },
      timeoutMs: 10_000,
    });
    expect(answer.status).toBe(400);
    expect(codeOf(answer)).toBe('MAX_TOKENS_EXCEEDED');
    expect(answer.bytes).toBeLessThan(1_024);
    expect(await stack.crm.requests()).toEqual([]);
  });
});

describe('with the default limits', () => {
  const stack = useStack();
  const post = (query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) =>
    postTimed(stack.url, jsonBody(query, variables), { headers });

  describe('what clients, routers and GraphiQL send goes through', () => {
    it("the README's curl upload", async () => {
      const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
      const operations = /-F operations='(.+)' \\\n/.exec(readme)![1]!;
      const response = await postRaw(stack.url, {
        body: multipartBody([
          { name: 'operations', value: operations },
          { name: 'map', value: '{"0":["variables.file"]}' },
          { name: '0', filename: 'photo.png', contentType: 'image/png', data: png(120, 80) },
        ]),
      });
      expect(response.json?.data?.uploadRecordPhoto?.__typename).toBe('UploadRecordPhotoSuccess');
    });

    it("the e2e document (every field of every member) and the README's Apollo Client document", async () => {
      const e2e = readFileSync(new URL('../e2e/documents/upload-record-photo.graphql', import.meta.url), 'utf8');
      const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
      const apollo = /gql`([^`]+)`/.exec(readme)![1]!;
      for (const query of [e2e, apollo]) {
        const form = new FormData();
        form.set('operations', JSON.stringify({ query, variables: { module: 'LEADS', recordId: '1000000000001', file: null } }));
        form.set('map', JSON.stringify({ 0: ['variables.file'] }));
        form.set('0', new Blob([png(8, 8)]), 'photo.png');
        const response = await fetch(stack.url, {
          method: 'POST',
          body: form,
          headers: { authorization: 'Zoho-oauthtoken emulator-token', 'apollo-require-preflight': 'true' },
        });
        expect(((await response.json()) as any).data.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');
      }
    });

    it("a router's `_service { sdl }` and `_entities` with 250 representations", async () => {
      const sdl = await post('query SubgraphSdl { _service { sdl } }');
      expect(sdl.status).toBe(200);
      expect(sdl.json?.data?._service.sdl).toContain('type CrmRecord');
      const representations = Array.from({ length: 250 }, (_, i) => ({ __typename: 'CrmRecord', module: 'LEADS', id: String(1_000_000_000_001 + i) }));
      const entities = await post(
        'query ($representations: [_Any!]!) { _entities(representations: $representations) { __typename ... on CrmRecord { module id } } }',
        { representations },
      );
      expect(entities.status).toBe(200);
      expect(entities.json?.data?._entities).toHaveLength(250);
    });

    it("GraphiQL's introspection query", async () => {
      const answer = await post(GRAPHIQL_INTROSPECTION);
      expect(answer.status).toBe(200);
      expect(answer.json?.errors).toBeUndefined();
      expect(answer.json?.data?.__schema.mutationType.name).toBe('Mutation');
    });
  });

  // Each operation is one past a single limit and within all the others; the one below it goes through.
  const entities = (body: string) => `query ($r: [_Any!]!) { ${body} }`;
  const nestedOfType = (levels: number) => `{ __type(name: "CrmRecord") { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } }`;
  const withinCost = (leaves: number) =>
    entities(`_entities(representations: $r) { ${'... on CrmRecord { '.repeat(8)}${'id '.repeat(leaves)}${'} '.repeat(8)}}`);
  // Padding that costs nothing but tokens: a representation's fields past its key are ignored.
  const padded = (tokens: number) => {
    const document = (n: number) =>
      `{ _entities(representations: [{ __typename: "CrmRecord", module: "LEADS", id: "1000000000001", padding: [${'0 '.repeat(n)}] }]) { __typename } }`;
    return document(tokens - tokenCount(document(0)));
  };
  it.each([
    ['aliases', 'MAX_ALIASES_EXCEEDED', entities(Array.from({ length: 15 }, (_, i) => `${aliasName(i)}: _entities(representations: $r) { __typename }`).join(' ')), entities(Array.from({ length: 16 }, (_, i) => `${aliasName(i)}: _entities(representations: $r) { __typename }`).join(' '))],
    ['depth', 'MAX_DEPTH_EXCEEDED', nestedOfType(8), nestedOfType(9)],
    ['tokens', 'MAX_TOKENS_EXCEEDED', padded(1_000), padded(1_001)],
    ['directives', 'MAX_DIRECTIVES_EXCEEDED', `{ ${'__typename @include(if: true) '.repeat(50)}}`, `{ ${'__typename @include(if: true) '.repeat(51)}}`],
    ['cost', 'MAX_COST_EXCEEDED', withinCost(1), withinCost(40)],
  ])('%s: one past the limit is a 400 with %s', async (_limit, code, within, past) => {
    const allowed = await post(within, { r: [] });
    expect(allowed.json?.errors).toBeUndefined();
    expect(allowed.status).toBe(200);
    const refused = await post(past, { r: [] });
    expect(refused.status).toBe(400);
    expect(refused.json?.data).toBeUndefined();
    expect(refused.json?.errors).toHaveLength(1);
    expect(refused.json?.errors?.[0]).toMatchObject({ message: expect.not.stringMatching(/Syntax Error/), extensions: { code } });
  });

  it('refuses with 400 whatever the client accepts', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json', '*/*']) {
      const refused = await post(serviceAliases(2), undefined, { accept });
      expect(refused.status).toBe(400);
      expect(codeOf(refused)).toBe('FIELD_REPEATED');
    }
  });

  describe('`_service { sdl }` once per operation', () => {
    it.each([
      ['two aliases', '{ a: _service { sdl } b: _service { sdl } }'],
      ['the SDL twice under one `_service`', '{ _service { a: sdl b: sdl } }'],
      ['aliases in fragments', '{ ...A ...B } fragment A on Query { a: _service { sdl } } fragment B on Query { b: _service { sdl } }'],
      ['`__schema` twice', '{ a: __schema { queryType { name } } b: __schema { queryType { name } } }'],
    ])('%s → 400 FIELD_REPEATED', async (_case, query) => {
      const refused = await post(query);
      expect(refused.status).toBe(400);
      expect(refused.json?.errors?.[0]).toMatchObject({ message: expect.stringMatching(/once per operation/), extensions: { code: 'FIELD_REPEATED' } });
    });

    it('the same field twice under one name is asked once (GraphQL merges it) and goes through', async () => {
      const answer = await post('{ _service { sdl } _service { sdl } }');
      expect(answer.status).toBe(200);
      expect(Object.keys(answer.json?.data ?? {})).toEqual(['_service']);
    });
  });

  it('the biggest answers an allowed operation can get stay small', async () => {
    // The SDL, once.
    const sdl = await post('{ _service { sdl } }');
    expect(sdl.status).toBe(200);
    expect(sdl.bytes).toBeLessThan(16_384);
    // Introspection (on outside production): the whole schema once, or its type list under every alias allowed.
    const introspection = await post(GRAPHIQL_INTROSPECTION);
    expect(introspection.bytes).toBeLessThan(100_000);
    const typeLists = (count: number) =>
      `{ __schema { ${Array.from({ length: count }, (_, i) => `${aliasName(i)}: types { name description fields { name description args { name description type { name kind ofType { name kind } } } type { name kind ofType { name kind ofType { name kind } } } } }`).join(' ')} } }`;
    const widest = await post(typeLists(15));
    expect(widest.status).toBe(200);
    expect(widest.bytes).toBeLessThan(1_000_000);
    expect((await post(typeLists(16))).status).toBe(400);
  });
});

describe('each limit comes from its variable', () => {
  const e2e = readFileSync(new URL('../e2e/documents/upload-record-photo.graphql', import.meta.url), 'utf8');
  it('GRAPHQL_MAX_TOKENS=100000: a document nested past what the parser can follow is still a 400 GRAPHQL_PARSE_FAILED', async () => {
    const stack = await startStack({ GRAPHQL_MAX_TOKENS: '100000' });
    try {
      const query = `{ _entities(representations: ${'['.repeat(20_000)}${']'.repeat(20_000)}) { __typename } }`;
      const refused = await postTimed(stack.url, jsonBody(query));
      expect(refused.status).toBe(400);
      expect(codeOf(refused)).toBe('GRAPHQL_PARSE_FAILED');
    } finally {
      await stack.close();
    }
  });

  it.each([
    ['GRAPHQL_MAX_ALIASES', '0', '{ a: __schema { queryType { name } } }', 'MAX_ALIASES_EXCEEDED'],
    ['GRAPHQL_MAX_DEPTH', '3', e2e, 'MAX_DEPTH_EXCEEDED'],
    ['GRAPHQL_MAX_TOKENS', '100', e2e, 'MAX_TOKENS_EXCEEDED'],
    ['GRAPHQL_MAX_DIRECTIVES', '0', '{ __typename @skip(if: false) }', 'MAX_DIRECTIVES_EXCEEDED'],
    ['GRAPHQL_MAX_COST', '50', e2e, 'MAX_COST_EXCEEDED'],
  ])('%s=%s', async (variable, value, query, code) => {
    const stack = await startStack({ [variable]: value });
    try {
      const refused = await postTimed(stack.url, jsonBody(query, { module: 'LEADS', recordId: '1000000000001', file: null }));
      expect(refused.status).toBe(400);
      expect(codeOf(refused)).toBe(code);
      expect(await stack.crm.requests()).toEqual([]);
    } finally {
      await stack.close();
    }
  });
});
