/**
 * Peer: the upload stack most GraphQL teams know. Express 5 with Apollo Server 5 (`@as-integrations/express5`),
 * `graphql-upload` 17's Express middleware (each file spooled through `fs-capacitor`, a temporary file the resolver
 * reads back as a stream), and the file streamed from there into an undici request to the sink. The same mutation
 * and answer as the gateway; Apollo's CSRF prevention on (the load generator sends `apollo-require-preflight`).
 * Forked by run.ts with SINK_ORIGIN.
 */
import { createServer } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import GraphQLUpload from 'graphql-upload/GraphQLUpload.mjs';
import graphqlUploadExpress from 'graphql-upload/graphqlUploadExpress.mjs';
import type { FileUpload } from 'graphql-upload/processRequest.mjs';
import { Pool } from 'undici';
import { FORWARDER_TYPE_DEFS, streamToSink, type ForwarderResult } from '../forwarder-schema.ts';
import { listen, sinkOrigin } from './peer-server.ts';

const sink = new Pool(sinkOrigin(), { keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });

interface Context {
  authorization: string;
}

const apollo = new ApolloServer<Context>({
  typeDefs: FORWARDER_TYPE_DEFS,
  resolvers: {
    Upload: GraphQLUpload,
    Query: { health: () => true },
    UploadRecordPhotoResult: { __resolveType: (result: ForwarderResult) => result.__typename },
    Mutation: {
      uploadRecordPhoto: async (_root: unknown, args: { file: Promise<FileUpload> }, context: Context): Promise<ForwarderResult> => {
        const file = await args.file;
        return streamToSink(sink, file, context.authorization);
      },
    },
  },
});
await apollo.start();

const app = express();
app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});
app.use(
  '/graphql',
  graphqlUploadExpress({ maxFileSize: 10 * 1024 * 1024 + 1, maxFiles: 1 }),
  express.json({ limit: '1mb' }),
  expressMiddleware(apollo, { context: async ({ req }) => ({ authorization: req.headers.authorization ?? '' }) }),
);
listen(createServer(app));
