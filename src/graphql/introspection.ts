import { getNamedType, isIntrospectionType, type ValidationRule } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import { operationRefusal } from './refusals.ts';

/** Refuses `__schema` and `__type` (whatever returns an introspection type); `__typename` and `_service` stay. */
const noIntrospectionRule: ValidationRule = (context) => ({
  Field(node) {
    const type = context.getType();
    if (!type || !isIntrospectionType(getNamedType(type))) return undefined;
    context.reportError(
      operationRefusal('INTROSPECTION_DISABLED', `Introspection is disabled here; "${node.name.value}" cannot be asked for.`, [node]),
    );
    return false; // one error for the outermost field, not one per field inside it
  },
});

/** graphql-js's hints, e.g. ` Did you mean "uploadRecordPhoto"?`, ` Did you mean the enum value "LEADS"?` */
const SUGGESTION = / ?Did you mean [^?]*\?/;
const SUGGESTIONS = new RegExp(SUGGESTION.source, 'g');

/**
 * Without introspection the schema is not for strangers to read, and "Did you mean …" would read it out to them one
 * guess at a time: refuses introspection and takes the suggestions out of every error message (validation errors,
 * and variables that do not fit their types). graphql-armor's block-field-suggestions plugin covers validation
 * messages only, and not "Did you mean the enum value …".
 */
export function useIntrospectionPolicy({ introspection }: { introspection: boolean }): Plugin[] {
  if (introspection) return [];
  return [
    {
      onValidate({ addValidationRule }) {
        addValidationRule(noIntrospectionRule);
      },
      onResultProcess({ result, setResult }) {
        if (Array.isArray(result) || isAsyncIterable(result) || !result.errors?.some((error) => SUGGESTION.test(error.message))) return;
        setResult({
          ...result,
          errors: result.errors.map((error) => {
            const message = error.message.replace(SUGGESTIONS, '');
            return message === error.message
              ? error
              : createGraphQLError(message, {
                  nodes: error.nodes,
                  source: error.source,
                  positions: error.positions,
                  path: error.path,
                  originalError: error.originalError,
                  extensions: error.extensions,
                });
          }),
        });
      },
    },
  ];
}
