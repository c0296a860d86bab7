import { getNamedType, isUnionType, type GraphQLSchema } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';

/** A representation the caller (a router, or anyone) got wrong: HTTP 400, BAD_USER_INPUT, nothing logged. */
export function badRepresentation(message: string) {
  return createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/**
 * Federation's `_entities` takes `[_Any!]!`: whatever JSON can say reaches @apollo/subgraph's resolver, which throws
 * a bare Error (a masked 500, a stack trace in the log) for a representation that is no object or names no type.
 * This checks each one first: an object whose `__typename` names an entity of this subgraph. Each entity's
 * resolveReference checks its own key fields.
 */
export function guardEntityRepresentations(schema: GraphQLSchema): GraphQLSchema {
  const field = schema.getQueryType()?.getFields()._entities;
  const entityUnion = field && getNamedType(field.type);
  if (!field?.resolve || !entityUnion || !isUnionType(entityUnion)) return schema;
  const entities = entityUnion.getTypes().map((type) => type.name);
  const resolve = field.resolve;
  field.resolve = (source, args: { representations?: unknown }, context, info) => {
    const representations = Array.isArray(args.representations) ? args.representations : [args.representations];
    representations.forEach((representation: unknown, index) => {
      if (typeof representation !== 'object' || representation === null || Array.isArray(representation)) {
        throw badRepresentation(`Representation ${index} is not an object: each one is { __typename, ...key fields }.`);
      }
      const { __typename: typename } = representation as { __typename?: unknown };
      if (typeof typename !== 'string') {
        throw badRepresentation(`Representation ${index} has no __typename string.`);
      }
      if (!entities.includes(typename)) {
        throw badRepresentation(
          `Representation ${index} names __typename "${typename.slice(0, 100)}", which is not an entity of this subgraph (${entities.join(', ')}).`,
        );
      }
    });
    return resolve(source, args, context, info);
  };
  return schema;
}
