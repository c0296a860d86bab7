import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_INTROSPECTION, jsonBody, postTimed } from '../support/hostile-operations.ts';
import { startStack, type Stack } from '../support/stack.ts';

// Introspection and "Did you mean …" suggestions: on outside production; in production they follow GRAPHIQL
// (default true), and GraphiQL itself is served unless GRAPHIQL=false. Federation's `_service` is always there.

// Production needs a CRM origin; nothing here calls it.
const PRODUCTION = { NODE_ENV: 'production', ZOHO_API_DOMAIN: 'http://127.0.0.1:9' };

function useStackWith(env: Record<string, string>) {
  const holder = {} as { stack: Stack };
  beforeAll(async () => {
    holder.stack = await startStack(env);
  });
  afterAll(async () => {
    await holder.stack?.close();
  });
  return holder;
}

const post = (stack: Stack, query: string, variables?: Record<string, unknown>) => postTimed(stack.url, jsonBody(query, variables));
const graphiqlPage = (stack: Stack) => fetch(stack.url, { headers: { accept: 'text/html' } });

const TYPO_FIELD = '{ _servic { sdl } }';
const TYPO_ENUM_LITERAL = 'mutation ($file: Upload!) { uploadRecordPhoto(module: LEAD, recordId: "1", file: $file) { __typename } }';
const TYPO_ENUM_VARIABLE = 'mutation ($m: CrmModule!, $file: Upload!) { uploadRecordPhoto(module: $m, recordId: "1", file: $file) { __typename } }';
const TYPO_ARGUMENT = 'mutation ($file: Upload!) { uploadRecordPhoto(module: LEADS, recordID: "1", file: $file) { __typename } }';

describe('in production with GRAPHIQL=false', () => {
  const holder = useStackWith({ ...PRODUCTION, GRAPHIQL: 'false' });

  it.each([
    ['__schema', '{ __schema { types { name } } }'],
    ['__type', '{ __type(name: "CrmRecord") { name } }'],
    ["GraphiQL's introspection query", GRAPHIQL_INTROSPECTION],
  ])('refuses %s: 400 INTROSPECTION_DISABLED', async (_case, query) => {
    const refused = await post(holder.stack, query);
    expect(refused.status).toBe(400);
    expect(refused.json?.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
  });

  it("still serves a router's `_service { sdl }` and `__typename`", async () => {
    const answer = await post(holder.stack, '{ __typename _service { sdl } }');
    expect(answer.status).toBe(200);
    expect(answer.json?.data?._service.sdl).toContain('type CrmRecord');
  });

  it.each([
    ['a misspelt field', TYPO_FIELD, '"_service"'],
    ['a misspelt enum value', TYPO_ENUM_LITERAL, 'LEADS'],
    // (the argument it lacks is named anyway: "argument "recordId" of type "ID!" is required")
    ['a misspelt argument', TYPO_ARGUMENT, null],
  ])('names no suggestion for %s', async (_case, query, suggestion) => {
    const refused = await post(holder.stack, query);
    expect(refused.status).toBe(400);
    expect(refused.json?.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(refused.text).not.toMatch(/did you mean/i);
    if (suggestion) expect(refused.text).not.toContain(suggestion);
  });

  it('names no suggestion for a misspelt enum value in a variable', async () => {
    const refused = await postTimed(
      holder.stack.url,
      jsonBody(TYPO_ENUM_VARIABLE, { m: 'LEAD', file: null }),
    );
    expect(refused.status).toBe(400);
    expect(refused.json?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.text).not.toMatch(/did you mean/i);
    expect(refused.text).not.toContain('LEADS');
  });

  it('serves no GraphiQL', async () => {
    const response = await graphiqlPage(holder.stack);
    expect(await response.text()).not.toMatch(/graphiql/i);
  });
});

describe('in production with GRAPHIQL unset (true)', () => {
  const holder = useStackWith(PRODUCTION);

  it("answers GraphiQL's introspection query and serves GraphiQL", async () => {
    const answer = await post(holder.stack, GRAPHIQL_INTROSPECTION);
    expect(answer.status).toBe(200);
    expect(answer.json?.data?.__schema.queryType.name).toBe('Query');
    const page = await graphiqlPage(holder.stack);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
  });

  it('suggests', async () => {
    expect((await post(holder.stack, TYPO_FIELD)).json?.errors?.[0]?.message).toMatch(/Did you mean "_service"\?/);
  });
});

describe('outside production', () => {
  describe('with GRAPHIQL=false', () => {
    const holder = useStackWith({ GRAPHIQL: 'false' });

    it('introspection and suggestions stay on; GraphiQL is not served', async () => {
      expect((await post(holder.stack, GRAPHIQL_INTROSPECTION)).status).toBe(200);
      expect((await post(holder.stack, TYPO_ENUM_LITERAL)).json?.errors?.[0]?.message).toMatch(/Did you mean the enum value "LEADS"\?/);
      expect(await (await graphiqlPage(holder.stack)).text()).not.toMatch(/graphiql/i);
    });
  });

  describe('by default', () => {
    const holder = useStackWith({});

    // Introspection's types lead back to themselves (a type's fields have types, which have fields…): nested, each
    // level multiplies the answer by the schema's size. GraphiQL's query never puts one type's list in another's.
    it.each([
      ['fields of the types of fields', '{ __schema { types { fields { type { fields { name } } } } } }'],
      ['through ofType', '{ __type(name: "Query") { fields { type { ofType { fields { name } } } } } }'],
      ['possible types of a field type', '{ __schema { types { fields { type { possibleTypes { name } } } } } }'],
      [
        'through fragments',
        '{ __schema { types { ...A } } } fragment A on __Type { interfaces { ...B } } fragment B on __Type { enumValues { name } }',
      ],
    ])('refuses introspection that nests one type list in another (%s): 400 INTROSPECTION_TOO_DEEP', async (_case, query) => {
      const refused = await post(holder.stack, query);
      expect(refused.status).toBe(400);
      expect(refused.json?.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_TOO_DEEP');
    });
  });
});
