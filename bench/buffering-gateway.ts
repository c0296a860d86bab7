/**
 * The naive baseline: a graphql-yoga server with Yoga's built-in multipart parsing (every file is read whole into
 * a `File` before the resolver runs) that forwards the file to the sink with Yoga's own fetch + FormData.
 * It accepts the same GraphQL multipart request as the real gateway. Forked by run.ts with SINK_ORIGIN.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga, type YogaInitialContext } from 'graphql-yoga';
import { CRM_PATH } from './bodies.ts';
import { FORWARDER_TYPE_DEFS, type ForwarderResult } from './forwarder-schema.ts';
import { announce, exitWithParent } from './ipc.ts';

exitWithParent();
const sinkOrigin = process.env.SINK_ORIGIN;
if (!sinkOrigin) throw new Error('SINK_ORIGIN is not set');

const yoga = createYoga({
  landingPage: false,
  graphiql: false,
  schema: createSchema<YogaInitialContext>({
    typeDefs: FORWARDER_TYPE_DEFS,
    resolvers: {
      Query: { health: () => true },
      UploadRecordPhotoResult: { __resolveType: (result: ForwarderResult) => result.__typename },
      Mutation: {
        uploadRecordPhoto: async (_root: unknown, args: { file: File }, context: YogaInitialContext): Promise<ForwarderResult> => {
          const { fetch, FormData } = yoga.fetchAPI;
          const form = new FormData();
          form.set('file', args.file, args.file.name);
          const response = await fetch(`${sinkOrigin}${CRM_PATH}`, {
            method: 'POST',
            body: form,
            headers: { authorization: context.request.headers.get('authorization') ?? '' },
          });
          const answer = (await response.json()) as { code?: string; message?: string };
          if (answer.code !== 'SUCCESS') {
            return { __typename: 'CrmServiceError', code: answer.code ?? 'UNEXPECTED_RESPONSE', message: answer.message ?? '' };
          }
          return {
            __typename: 'UploadRecordPhotoSuccess',
            message: answer.message ?? '',
            photo: { filename: args.file.name, byteSize: args.file.size },
          };
        },
      },
    },
  }),
});

const server = createServer(yoga);
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => announce('ready', { port: (server.address() as AddressInfo).port }));
