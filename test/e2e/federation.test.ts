import { parse, type ObjectTypeDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { useStack } from '../support/stack.ts';
import { dataOf, postJson } from './support/graphql-http.ts';

// What a federation router asks a subgraph for, asked over HTTP as a router would.

const stack = useStack({}, { resetEachTest: false });

const ENTITIES = /* GraphQL */ `
  query ($representations: [_Any!]!) {
    _entities(representations: $representations) { __typename ... on CrmRecord { module id } }
  }
`;

describe('a Federation v2 subgraph', () => {
  it('serves SDL that links the federation v2 spec and keys CrmRecord on module and id', async () => {
    const { _service } = dataOf(await postJson<{ _service: { sdl: string } }>(stack.url, '{ _service { sdl } }'));
    expect(_service.sdl).toMatch(/@link\(\s*url:\s*"https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
    const record = parse(_service.sdl).definitions.find(
      (d): d is ObjectTypeDefinitionNode => d.kind === 'ObjectTypeDefinition' && d.name.value === 'CrmRecord',
    );
    const keys = record?.directives?.filter((d) => d.name.value === 'key').map((d) => d.arguments?.[0]?.value);
    expect(keys).toEqual([expect.objectContaining({ kind: 'StringValue', value: 'module id' })]);
  });

  it('resolves CrmRecord representations carrying the enum name', async () => {
    const data = dataOf(
      await postJson<{ _entities: unknown[] }>(stack.url, ENTITIES, {
        representations: [
          { __typename: 'CrmRecord', module: 'LEADS', id: '1000000000001' },
          { __typename: 'CrmRecord', module: 'CONTACTS', id: '1000000000002' },
        ],
      }),
    );
    expect(data._entities).toEqual([
      { __typename: 'CrmRecord', module: 'LEADS', id: '1000000000001' },
      { __typename: 'CrmRecord', module: 'CONTACTS', id: '1000000000002' },
    ]);
  });

  it('resolves a representation with an unknown module to null, next to a known one', async () => {
    const data = dataOf(
      await postJson<{ _entities: unknown[] }>(stack.url, ENTITIES, {
        representations: [
          { __typename: 'CrmRecord', module: 'SPACESHIPS', id: '1' },
          { __typename: 'CrmRecord', module: 'DEALS', id: '1000000000003' },
        ],
      }),
    );
    expect(data._entities).toEqual([null, { __typename: 'CrmRecord', module: 'DEALS', id: '1000000000003' }]);
  });
});
