import type { ASTNode } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';

/** What an operation is refused for before it runs, as `extensions.code`. */
export const OPERATION_REFUSAL_CODES = [
  'MAX_TOKENS_EXCEEDED',
  'MAX_ALIASES_EXCEEDED',
  'MAX_DEPTH_EXCEEDED',
  'MAX_DIRECTIVES_EXCEEDED',
  'MAX_COST_EXCEEDED',
  'FIELD_REPEATED',
  'INTROSPECTION_DISABLED',
  'INTROSPECTION_TOO_DEEP',
] as const;

export type OperationRefusalCode = (typeof OPERATION_REFUSAL_CODES)[number];

const REFUSAL_CODES: ReadonlySet<string> = new Set<OperationRefusalCode>(OPERATION_REFUSAL_CODES);

export function operationRefusal(code: OperationRefusalCode, message: string, nodes?: readonly ASTNode[]) {
  return createGraphQLError(message, { nodes, extensions: { code, http: { status: 400 } } });
}

/**
 * An operation refused before it runs is answered 400 whatever the client accepts. (Yoga answers parse and
 * validation errors 200 to a client that accepts only application/json, as the GraphQL-over-HTTP spec has it for
 * such clients; a refusal is the gateway's limit, not the client's syntax, and monitoring should see it as one.)
 */
export function useRefusalStatus(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || isAsyncIterable(result)) return;
      const refused = result.errors?.some((error) => REFUSAL_CODES.has(String(error.extensions?.code)));
      if (!refused) return;
      setResult({ ...result, extensions: { ...result.extensions, http: { ...result.extensions?.http, status: 400 } } });
    },
  };
}
