import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { OperationLimits } from '../config.ts';
import { introspectionNestingRule, oncePerOperationRule } from './field-rules.ts';
import { useIntrospectionPolicy } from './introspection.ts';
import { operationRefusal, useRefusalStatus, type OperationRefusalCode } from './refusals.ts';

/** Fields whose answer is large, or that act, asked at most once per operation (see oncePerOperationRule). */
export const ONCE_PER_OPERATION: ReadonlyMap<string, string> = new Map([
  ['Mutation.uploadRecordPhoto', 'send one upload per request.'],
  ['Query._service', 'the SDL is the same every time.'],
  ['_Service.sdl', 'the SDL is the same every time.'],
  ['Query.__schema', 'the schema is the same every time.'],
]);

/** armor words its refusals as syntax errors ("Syntax Error: Aliases limit of 15 exceeded, found 16."); they are not. */
const withoutArmorPrefix = (error: GraphQLError) => error.message.replace(/^Syntax Error: /, '');

/** Validation-time limits report a refusal with our code alongside graphql's own errors, instead of throwing. */
function reporting(code: OperationRefusalCode) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        context?.reportError(operationRefusal(code, withoutArmorPrefix(error)));
      },
    ],
  };
}

/**
 * Everything an operation must keep to before it runs, each limit refused with HTTP 400 and its own
 * `extensions.code`:
 * - tokens (counted as the document is parsed, so a huge document stops early), aliases, depth, directives and a
 *   static cost, by graphql-armor. Depth and cost leave `__schema` alone: its introspection query is 20 levels deep
 *   (introspectionNestingRule bounds introspection instead);
 * - `uploadRecordPhoto`, `_service { sdl }` and `__schema` once per operation, so no answer repeats the SDL or
 *   the schema and no request uploads twice;
 * - introspection and "Did you mean …" suggestions only where `introspection` is on.
 * List them before the plugin that wraps the parser (useRequestErrorCodes), so it wraps armor's.
 */
export function useOperationLimits(limits: OperationLimits, { introspection }: { introspection: boolean }): Plugin[] {
  return [
    EnvelopArmorPlugin({
      maxTokens: {
        n: limits.maxTokens,
        propagateOnRejection: false,
        onReject: [
          (_context, error) => {
            throw operationRefusal('MAX_TOKENS_EXCEEDED', withoutArmorPrefix(error));
          },
        ],
      },
      maxAliases: { n: limits.maxAliases, ...reporting('MAX_ALIASES_EXCEEDED') },
      maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, ...reporting('MAX_DEPTH_EXCEEDED') },
      maxDirectives: { n: limits.maxDirectives, ...reporting('MAX_DIRECTIVES_EXCEEDED') },
      costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true, ...reporting('MAX_COST_EXCEEDED') },
      // useIntrospectionPolicy takes out every suggestion, in more messages than this plugin reaches
      blockFieldSuggestion: { enabled: false },
    }) as Plugin,
    {
      onValidate({ addValidationRule }) {
        addValidationRule(oncePerOperationRule(ONCE_PER_OPERATION));
        addValidationRule(introspectionNestingRule);
      },
    },
    ...useIntrospectionPolicy({ introspection }),
    useRefusalStatus(),
  ];
}
