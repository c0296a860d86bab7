/**
 * The floor for a forwarder on this project's stack: graphql-yoga with graphql-upload-minimal streaming the file
 * straight into an undici request to the sink — the least code that does the gateway's job. No image sniffing,
 * no limits, no timeouts, no concurrency cap, no answer mapping beyond SUCCESS. What the real gateway costs
 * beyond this is its own code; what this costs beyond the raw proxy is the stack's. Forked by run.ts with SINK_ORIGIN.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { GraphQLUpload, processRequest, type FileUpload } from 'graphql-upload-minimal';
import { Pool } from 'undici';
import { FORWARDER_TYPE_DEFS, streamToSink, type ForwarderResult } from './forwarder-schema.ts';
import { announce, exitWithParent } from './ipc.ts';

exitWithParent();
const sinkOrigin = process.env.SINK_ORIGIN;
if (!sinkOrigin) throw new Error('SINK_ORIGIN is not set');
const sink = new Pool(sinkOrigin, { keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });

interface NodeContext {
  req: IncomingMessage;
  res: ServerResponse;
}

/** Parses the multipart request as a stream, straight off the Node request, as the gateway does. */
const streamingMultipart: Plugin<Record<string, unknown>, NodeContext> = {
  onRequestParse({ request, serverContext, setRequestParser }) {
    if (!/^multipart\/form-data/i.test(request.headers.get('content-type') ?? '')) return;
    const { req, res } = serverContext;
    // graphql-upload-minimal types `variables` as unknown; Yoga validates the operation's shape itself.
    setRequestParser(() => processRequest(req, res) as unknown as Promise<Record<string, unknown>>);
  },
};

const yoga = createYoga<NodeContext>({
  landingPage: false,
  graphiql: false,
  maxRequestBodySize: false,
  plugins: [streamingMultipart],
  schema: createSchema<NodeContext>({
    typeDefs: FORWARDER_TYPE_DEFS,
    resolvers: {
      Upload: GraphQLUpload,
      Query: { health: () => true },
      UploadRecordPhotoResult: { __resolveType: (result: ForwarderResult) => result.__typename },
      Mutation: {
        uploadRecordPhoto: async (_root: unknown, args: { file: Promise<FileUpload> }, context: NodeContext & { request: Request }): Promise<ForwarderResult> => {
          const file = await args.file;
          return streamToSink(sink, file, context.request.headers.get('authorization') ?? '');
        },
      },
    },
  }),
});

const server = createServer(yoga);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => announce('ready', { port: (server.address() as AddressInfo).port }));
