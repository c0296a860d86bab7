import { GraphQLError } from 'graphql';
import { createGraphQLError, createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { maskUnexpectedError } from '../../src/http/unexpected-errors.ts';

const SECRET = 'secret internals /x/y';

function yogaWith(isDev?: boolean) {
  return createYoga({
    schema: createSchema({
      typeDefs: /* GraphQL */ `
        type Query {
          boom: String
          refused: String
        }
      `,
      resolvers: {
        Query: {
          boom: () => {
            throw new Error(SECRET);
          },
          refused: () => {
            throw createGraphQLError('x', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
          },
        },
      },
    }),
    maskedErrors: { maskError: maskUnexpectedError, ...(isDev === undefined ? {} : { isDev }) },
    logging: false,
  });
}

async function query(yoga: ReturnType<typeof yogaWith>, document: string) {
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: document }),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as { data?: unknown; errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[] } };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('maskUnexpectedError in a Yoga server', () => {
  it.each([
    ['production', undefined],
    ['development', true],
  ] as const)('answers a resolver bug with HTTP 500 and a generic message (%s)', async (nodeEnv, isDev) => {
    vi.stubEnv('NODE_ENV', nodeEnv);
    const { status, text, body } = await query(yogaWith(isDev), '{ boom }');

    expect(status).toBe(500);
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.message).toBe('Unexpected error.');
    expect(body.errors![0]!.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(body.errors![0]!.path).toEqual(['boom']);
    expect(text).not.toContain('secret internals');
    expect(text).not.toContain('originalError');
    expect(text).not.toContain('stack');
  });

  it('passes an error the gateway meant to raise through unchanged', async () => {
    vi.stubEnv('NODE_ENV', 'development');
    const { status, body } = await query(yogaWith(true), '{ refused }');

    expect(status).toBe(400);
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.message).toBe('x');
    expect(body.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('maskUnexpectedError called directly', () => {
  it.each([true, false])('masks a plain Error with isDev=%s: no message, no stack, status 500', (isDev) => {
    const masked = maskUnexpectedError(new Error(SECRET), 'Unexpected error.', isDev) as GraphQLError;

    expect(masked).toBeInstanceOf(GraphQLError);
    expect(masked.message).toBe('Unexpected error.');
    expect(masked.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', http: { status: 500 } });
    expect(masked.extensions).not.toHaveProperty('originalError');
    expect(JSON.stringify(masked)).not.toContain('secret internals');
  });

  it.each([true, false])('masks a located resolver error with isDev=%s and keeps its path', (isDev) => {
    const located = new GraphQLError(SECRET, { path: ['boom'], originalError: new Error(SECRET) });
    const masked = maskUnexpectedError(located, 'Unexpected error.', isDev) as GraphQLError;

    expect(masked.message).toBe('Unexpected error.');
    expect(masked.path).toEqual(['boom']);
    expect(masked.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', http: { status: 500 } });
    expect(masked.extensions).not.toHaveProperty('originalError');
    expect(JSON.stringify(masked)).not.toContain('secret internals');
  });

  it('gives a bug status 500 even when it claims another', () => {
    const located = new GraphQLError(SECRET, {
      path: ['boom'],
      originalError: new Error(SECRET),
      extensions: { http: { status: 418 } },
    });
    const masked = maskUnexpectedError(located, 'Unexpected error.', false) as GraphQLError;
    expect(masked.extensions).toMatchObject({ http: { status: 500 } });
  });

  it('returns an error the gateway meant to raise as the same object', () => {
    const meant = createGraphQLError('x', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
    expect(maskUnexpectedError(meant, 'Unexpected error.', true)).toBe(meant);
  });
});
