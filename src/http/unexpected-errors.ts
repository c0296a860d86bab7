import { createGraphQLError, maskError, type YogaServerOptions } from 'graphql-yoga';

type MaskError = Exclude<Exclude<YogaServerOptions<object, object>['maskedErrors'], boolean | undefined>['maskError'], undefined>;

/**
 * A bug in the gateway is the gateway's fault: HTTP 500 with a generic message, never a raw exception text for the
 * client. Yoga logs the original error with its stack; errors the gateway meant to raise pass through unchanged.
 */
export const maskUnexpectedError: MaskError = (error, message) => {
  // Never the development variant: it copies the original message and stack into the answer.
  const masked = maskError(error, message, false);
  if (masked === error) return masked;
  const graphqlError = masked as ReturnType<typeof createGraphQLError>;
  return createGraphQLError(graphqlError.message, {
    nodes: graphqlError.nodes,
    source: graphqlError.source,
    positions: graphqlError.positions,
    path: graphqlError.path,
    extensions: { ...graphqlError.extensions, http: { status: 500 } },
  });
};
