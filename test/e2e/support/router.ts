import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';

export interface Router {
  url: string;
  runtime: GatewayRuntime;
  close(): Promise<void>;
}

/** Headers a client sends that the subgraphs need: the CRM token, and the CSRF preflight proof. */
export const FORWARDED_HEADERS = ['authorization', 'apollo-require-preflight'] as const;

/**
 * A Hive Gateway router on loopback, reading the supergraph from a file, as a company router would:
 * multipart uploads on, and the client's authorization and preflight headers passed to every subgraph.
 */
export async function startRouter(supergraphPath: string): Promise<Router> {
  const runtime = createGatewayRuntime({
    supergraph: supergraphPath,
    multipart: true,
    logging: false,
    graphiql: false,
    landingPage: false,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) =>
        Object.fromEntries(FORWARDED_HEADERS.map((name) => [name, request.headers.get(name)])),
    },
  });
  const server: Server = createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    runtime,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await runtime.dispose();
    },
  };
}
