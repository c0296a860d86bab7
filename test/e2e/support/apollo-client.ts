import { ApolloClient, InMemoryCache } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { possibleTypes } from '../generated/graphql.ts';

export interface PhotoClientOptions {
  /** The gateway's GraphQL URL. */
  uri: string;
  /** Sent as `Authorization`; null sends none. */
  authorization: string | null;
  /** false leaves out `apollo-require-preflight`, to show what happens without it. */
  preflightHeader?: boolean;
  /** The fetch the link uses; tests pass one that records what went over the wire. */
  fetch?: typeof fetch;
}

/**
 * Apollo Client set up as a frontend should be: UploadHttpLink with the CRM token and the header that makes
 * browsers preflight (the gateway refuses multipart without it); `possibleTypes` so the cache can match
 * `... on CrmError`; CrmRecord keyed like the entity, on module and id (ids repeat across modules); and
 * `crmRecord(module, id)` read from that record when the cache has it, so a record an upload or a delete
 * returned (with its photo) answers the query without a request.
 * Browser-safe: the test page bundles this same module.
 */
export function createPhotoClient({ uri, authorization, preflightHeader = true, fetch }: PhotoClientOptions) {
  const headers: Record<string, string> = {};
  if (authorization !== null) headers['authorization'] = authorization;
  if (preflightHeader) headers['apollo-require-preflight'] = 'true';
  return new ApolloClient({
    cache: new InMemoryCache({
      possibleTypes,
      typePolicies: {
        CrmRecord: { keyFields: ['module', 'id'] },
        Query: {
          fields: {
            crmRecord: {
              read: (existing, { args, toReference }) =>
                existing !== undefined || !args ? existing : toReference({ __typename: 'CrmRecord', module: args['module'], id: args['id'] }),
            },
          },
        },
      },
    }),
    link: new UploadHttpLink({ uri, headers, ...(fetch ? { fetch } : {}) }),
  });
}
