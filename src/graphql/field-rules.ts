import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { operationRefusal } from './refusals.ts';

/**
 * Fields an operation may ask for once, by schema coordinate (`Type.field`), each with why. Once means one response
 * key: GraphQL merges a field written twice under one name into one, so only aliases (and fragments that bring
 * aliases) ask again. The count runs over the operation and every fragment it spreads.
 */
export function oncePerOperationRule(fields: ReadonlyMap<string, string>): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    // the response keys of each watched field, by the definition (operation or fragment) they are written in
    const keys = new Map<OperationDefinitionNode | FragmentDefinitionNode, Map<string, Set<string>>>();
    let definition: OperationDefinitionNode | FragmentDefinitionNode | undefined;
    return {
      OperationDefinition(node) {
        definition = node;
      },
      FragmentDefinition(node) {
        definition = node;
      },
      Field(node) {
        const parent = context.getParentType();
        if (!parent || !definition) return;
        const coordinate = `${parent.name}.${node.name.value}`;
        if (!fields.has(coordinate)) return;
        const byCoordinate = keys.get(definition) ?? new Map<string, Set<string>>();
        keys.set(definition, byCoordinate);
        const responseKeys = byCoordinate.get(coordinate) ?? new Set<string>();
        byCoordinate.set(coordinate, responseKeys);
        responseKeys.add((node.alias ?? node.name).value);
      },
      Document: {
        leave(document) {
          for (const operation of document.definitions) {
            if (operation.kind !== Kind.OPERATION_DEFINITION) continue;
            const definitions = [operation, ...context.getRecursivelyReferencedFragments(operation)];
            for (const [coordinate, reason] of fields) {
              const asked = new Set(definitions.flatMap((d) => [...(keys.get(d)?.get(coordinate) ?? [])]));
              if (asked.size > 1) {
                const field = coordinate.slice(coordinate.indexOf('.') + 1);
                context.reportError(
                  operationRefusal(
                    'FIELD_REPEATED',
                    `${field} may be asked for once per operation, and this one asks ${asked.size} times (${[...asked].join(', ')}): ${reason}`,
                    [operation],
                  ),
                );
              }
            }
          }
        },
      },
    };
  };
}

/** The fields of __Type that list other types, or things that have types. */
const TYPE_LISTS = new Set(['fields', 'inputFields', 'interfaces', 'possibleTypes', 'enumValues']);

/**
 * Introspection's types lead back to themselves — a type's fields have types, which have fields — so each level of
 * nesting multiplies the answer by the size of the schema, and depth limits leave introspection alone (GraphiQL's
 * own query is 20 levels deep). GraphiQL's query never puts one of a type's lists inside another's; an operation
 * that does is refused, which bounds any introspection answer by the schema's size.
 */
export const introspectionNestingRule: ValidationRule = (context) => {
  const schema = context.getSchema();
  const fragments = new Map<string, number>();

  function nesting(selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): number {
    let deepest = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        let type: GraphQLNamedType | undefined;
        if (name === '__schema') type = schema.getType('__Schema');
        else if (name === '__type') type = schema.getType('__Type');
        else if (parent && (isObjectType(parent) || isInterfaceType(parent))) {
          const field = parent.getFields()[name];
          type = field ? getNamedType(field.type) : undefined;
        }
        const own = parent?.name === '__Type' && TYPE_LISTS.has(name) ? 1 : 0;
        deepest = Math.max(deepest, own + (selection.selectionSet ? nesting(selection.selectionSet, type) : 0));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        deepest = Math.max(deepest, nesting(selection.selectionSet, type));
      } else {
        deepest = Math.max(deepest, fragmentNesting(selection.name.value));
      }
    }
    return deepest;
  }

  function fragmentNesting(name: string): number {
    const known = fragments.get(name);
    if (known !== undefined) return Math.max(known, 0);
    const fragment = context.getFragment(name);
    if (!fragment) return 0;
    fragments.set(name, -1); // a cycle (refused by graphql's own rules) counts nothing the second time round
    const found = nesting(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
    fragments.set(name, found);
    return found;
  }

  return {
    OperationDefinition(operation) {
      if (nesting(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined) > 1) {
        context.reportError(
          operationRefusal(
            'INTROSPECTION_TOO_DEEP',
            "Introspection may ask for one list of a type's fields, input fields, interfaces, possible types or enum values, not for one inside another.",
            [operation],
          ),
        );
      }
      return false;
    },
  };
};
