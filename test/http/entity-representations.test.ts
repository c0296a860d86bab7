import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonBody, postTimed } from '../support/hostile-operations.ts';
import { NODE, start, type Started } from '../support/process.ts';

// Federation's `_entities` takes representations as `_Any`, so anything JSON can say arrives at the resolver. A
// malformed one is the caller's mistake: a 400 with BAD_USER_INPUT, never a masked 500 with a stack trace in the
// gateway's log. Asked of `node src/main.ts` in its own process, so its console output can be read.

const ENTITIES = 'query ($r: [_Any!]!) { _entities(representations: $r) { __typename ... on CrmRecord { module id } } }';

let gateway: Started;
let url: string;
beforeAll(async () => {
  // no metrics listener: parallel test processes would all ask for its port
  gateway = start(NODE, ['src/main.ts'], { env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0' } });
  url = (await gateway.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
  // the banner ends with the curl example; what comes after it is the requests' doing
  await gateway.waitFor(/-F 0=@\S+/);
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
});

/** Sends one request and returns its answer with whatever the gateway printed meanwhile. */
async function withOutput(body: string) {
  const before = gateway.output().length;
  const answer = await postTimed(url, body);
  // a log line, if any, is written as the answer goes out: give it a moment to arrive
  await new Promise((resolve) => setTimeout(resolve, 50));
  const printed = gateway.output().slice(before);
  return { answer, printed: printed.split('\n').filter((line) => line.trim() !== '') };
}

function expectBadUserInput(result: Awaited<ReturnType<typeof withOutput>>, message?: RegExp) {
  const { answer, printed } = result;
  expect(answer.status).toBe(400);
  expect(answer.json?.data ?? null).toBeNull();
  expect(answer.json?.errors).toHaveLength(1);
  expect(answer.json?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  if (message) expect(answer.json?.errors?.[0]?.message).toMatch(message);
  // at most one log line for the request, and never a stack trace
  expect(printed.length).toBeLessThanOrEqual(1);
  expect(printed.join('\n')).not.toMatch(/^\s+at /m);
}

describe('malformed representations are the caller\'s 400', () => {
  it.each([
    ['an empty object', [{}], /__typename/],
    ['a number', [1], /object/],
    ['a string', ['CrmRecord'], /object/],
    ['a list', [[]], /object/],
    ['an unknown __typename', [{ __typename: 'Spaceship', module: 'LEADS', id: '1' }], /Spaceship/],
    ['a type that is no entity', [{ __typename: 'UploadedPhoto' }], /UploadedPhoto/],
    ['the query type', [{ __typename: 'Query' }], /Query/],
    ['a __typename that is not a string', [{ __typename: 7 }], /__typename/],
    ['a CrmRecord without module', [{ __typename: 'CrmRecord', id: '1000000000001' }], /module/],
    ['a CrmRecord without id', [{ __typename: 'CrmRecord', module: 'LEADS' }], /id/],
    ['a CrmRecord with a number for module', [{ __typename: 'CrmRecord', module: 5, id: '1000000000001' }], /module/],
    ['a CrmRecord with a number for id', [{ __typename: 'CrmRecord', module: 'LEADS', id: 1000000000001 }], /id/],
    ['a CrmRecord with an object for id', [{ __typename: 'CrmRecord', module: 'LEADS', id: { x: 1 } }], /id/],
    ['a CrmRecord with null for module', [{ __typename: 'CrmRecord', module: null, id: '1000000000001' }], /module/],
    ['a good one and a bad one', [{ __typename: 'CrmRecord', module: 'LEADS', id: '1000000000001' }, {}], /__typename/],
  ])('%s', async (_case, representations, message) => {
    expectBadUserInput(await withOutput(jsonBody(ENTITIES, { r: representations })), message);
  });

  it('null in the list (the variable does not fit [_Any!]!)', async () => {
    expectBadUserInput(await withOutput(jsonBody(ENTITIES, { r: [null] })));
  });

  it.each([
    ['{}', '[{}]'],
    ['1', '[1]'],
    ['an unknown __typename', '[{ __typename: "Spaceship" }]'],
  ])('written into the document: %s', async (_case, literal) => {
    const query = `{ _entities(representations: ${literal}) { __typename } }`;
    expectBadUserInput(await withOutput(jsonBody(query)));
  });
});

describe('well-formed representations still resolve', () => {
  it('an unknown module gives null next to a known one, and nothing is logged', async () => {
    const { answer, printed } = await withOutput(
      jsonBody(ENTITIES, {
        r: [
          { __typename: 'CrmRecord', module: 'SPACESHIPS', id: '1' },
          { __typename: 'CrmRecord', module: 'DEALS', id: '1000000000003' },
        ],
      }),
    );
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ data: { _entities: [null, { __typename: 'CrmRecord', module: 'DEALS', id: '1000000000003' }] } });
    expect(printed.length).toBeLessThanOrEqual(1);
  });

  it('extra fields in a representation are ignored', async () => {
    const { answer } = await withOutput(
      jsonBody(ENTITIES, { r: [{ __typename: 'CrmRecord', module: 'LEADS', id: '1000000000001', notes: ['x'] }] }),
    );
    expect(answer.json).toEqual({ data: { _entities: [{ __typename: 'CrmRecord', module: 'LEADS', id: '1000000000001' }] } });
  });
});
