/**
 * The floor for any Node forwarder: the incoming request body piped, unparsed, into an undici request to the
 * sink, and the sink's answer piped back. No GraphQL, no multipart parsing. Forked by run.ts with SINK_ORIGIN.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';
import { CRM_PATH } from './bodies.ts';
import { announce, exitWithParent } from './ipc.ts';

exitWithParent();
const sinkOrigin = process.env.SINK_ORIGIN;
if (!sinkOrigin) throw new Error('SINK_ORIGIN is not set');
const sink = new Pool(sinkOrigin, { keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });

const server = createServer((req, res) => {
  const headers: Record<string, string> = {
    'content-type': req.headers['content-type'] ?? 'application/octet-stream',
    authorization: req.headers.authorization ?? '',
  };
  if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
  pipeline(
    req,
    sink.pipeline({ path: CRM_PATH, method: 'POST', headers }, ({ statusCode, headers: answer, body }) => {
      res.writeHead(statusCode, { 'content-type': String(answer['content-type'] ?? 'application/json') });
      return body;
    }),
    res,
    (error) => {
      if (error && !res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(error));
      }
    },
  );
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => announce('ready', { port: (server.address() as AddressInfo).port }));
