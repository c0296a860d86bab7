import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga, type Plugin, type YogaLogger } from 'graphql-yoga';
import type { GatewayConfig } from './config.ts';
import { AccountsClient } from './crm/accounts-client.ts';
import { PassThroughCredentials, type CredentialProvider } from './crm/credentials.ts';
import { ServiceCredentials } from './crm/service-credentials.ts';
import type { CrmObserver } from './crm/observer.ts';
import { ConcurrencyLimit } from './crm/concurrency-limit.ts';
import type { CrmBudget } from './crm/crm-budget.ts';
import type { SharedReplicas } from './crm/shared-replicas.ts';
import type { SharedTokenStore } from './crm/shared-token.ts';
import { crmPool, type CrmCallOptions } from './crm/crm-pool.ts';
import { PhotoClient } from './crm/photo-client.ts';
import { RecordsClient } from './crm/records-client.ts';
import { PhotoFilesClient } from './crm/photo-files-client.ts';
import { corsFor } from './http/cors.ts';
import { useApiKeys } from './http/api-keys.ts';
import { GraphiQLPage } from './http/graphiql.ts';
import { useResponseCompression } from './http/compression.ts';
import { useBodyLimits } from './http/body-limits.ts';
import { callerIdentity } from './http/caller-identity.ts';
import { serverTimeouts } from './http/server-timeouts.ts';
import { useCsrfPrevention } from './http/csrf.ts';
import { RecordPhotoService } from './photos/upload-record-photo.ts';
import { ResizeLane } from './photos/resize-lane.ts';
import type { PhotoUrlSettings } from './photos/photo-url.ts';
import { RecordPhotoReads } from './photos/read-record-photos.ts';
import { PhotoDownloadService } from './photos/download-record-photo.ts';
import { PhotoDeleteService } from './photos/delete-record-photo.ts';
import { PhotoLinkSigner } from './photos/photo-links.ts';
import { usePhotoDownloads } from './http/photo-download.ts';
import type { UploadObserver } from './photos/upload-report.ts';
import type { DownloadObserver } from './photos/download-report.ts';
import { buildSchema } from './schema/index.ts';
import type { GraphContext } from './schema/builder.ts';
import { MAX_PHOTO_BYTES } from './photos/limits.ts';
import { useStreamingMultipart, type NodeServerContext } from './http/multipart-request.ts';
import { useHealthProbes, type Readiness } from './http/health.ts';
import { requestIdOf, useRequestId } from './http/request-id.ts';
import { useRequestErrorCodes } from './http/request-errors.ts';
import { useOperationLimits } from './graphql/operation-limits.ts';
import { maskUnexpectedError } from './http/unexpected-errors.ts';

export interface Gateway {
  readonly url: string;
  readonly server: Server;
  /** Uploads in flight to the CRM and waiting for a slot, right now (for gauges). */
  crmLoad(): { inFlight: number; queued: number; sharedBudget?: boolean };
  /** Stops accepting connections, lets requests in flight finish for up to `graceMs`, then cuts the rest. */
  close(options?: { graceMs?: number }): Promise<void>;
}

export interface GatewayDependencies {
  /** The CRM origin to call: the configured one, or the embedded emulator's. */
  crmOrigin: string;
  /** The accounts origin for service mode: the configured one, or the embedded emulator's. */
  accountsUrl?: string;
  /** Headers GraphiQL starts with, e.g. the emulator's demo token. */
  graphiqlHeaders?: Record<string, string>;
  /** Who hears about CRM calls and finished uploads (logs, metrics). */
  observer?: GatewayObserver;
  /** Yoga plugins for operating the gateway (logs, metrics, traces): they run first, after probes and request ids. */
  plugins?: Plugin[];
  /** Where Yoga's own messages go (a bug's stack among them); default: the console. */
  yogaLogger?: YogaLogger;
}

export type GatewayObserver = CrmObserver & Partial<UploadObserver> & Partial<DownloadObserver>;

const MAX_MULTIPART_BYTES = 25_000_000;
const MAX_JSON_BYTES = 1_000_000;

const GRAPHIQL_UPLOAD = `# Pick a file for $file in the bar above the tabs, then run (Ctrl-Enter):
# GraphiQL sends it as a multipart request.
# fitToLimits: a phone photo over the CRM's 10 MP is scaled down to fit instead of refused.
mutation UploadPhoto($module: CrmModule!, $recordId: ID!, $file: Upload!) {
  uploadRecordPhoto(module: $module, recordId: $recordId, file: $file, fitToLimits: true) {
    __typename
    ... on UploadRecordPhotoSuccess {
      photo { filename format byteSize width height resized originalWidth originalHeight locationRemoved }
      record { photo { version url } }
    }
    ... on CrmError { code message }
  }
}
`;
const GRAPHIQL_UPLOAD_VARIABLES = JSON.stringify({ module: 'LEADS', recordId: '1000000000001' }, null, 2);
const GRAPHIQL_RECORD = `query RecordPhoto {
  crmRecord(module: LEADS, id: "1000000000001") { photo { version url } }
}
`;

/**
 * `shared` (REDIS_URL, built by startGateway): the replicas share the CRM budget, the service token and the CRM's 429
 * pauses through Redis; the connection never holds a call back (see SharedState). Absent: all in this process.
 */
export function createGatewayHandler(config: GatewayConfig, dependencies: GatewayDependencies, shared: SharedReplicas | null = null) {
  const sharedState = shared?.state ?? null;
  const sharedBudget = shared?.budget ?? null;
  // One limit on concurrent CRM calls, uploads and record reads alike: the CRM counts them all.
  const crmLimit: CrmBudget =
    sharedBudget ??
    new ConcurrencyLimit({
      max: config.crm.maxConcurrency,
      maxQueue: config.crm.maxQueue,
      timeoutMs: config.crm.queueTimeoutMs,
      maxPerCaller: config.crm.maxConcurrencyPerCaller,
    });
  const callerOf = callerIdentity({ serviceMode: config.serviceCredentials !== null, apiKeys: config.apiKeys });
  // One keep-alive pool to the CRM origin for every CRM client.
  const pool = crmPool({ connectTimeoutMs: config.crm.connectTimeoutMs });
  const crmCalls: CrmCallOptions = {
    apiDomain: dependencies.crmOrigin,
    apiVersion: config.crm.apiVersion,
    connectTimeoutMs: config.crm.connectTimeoutMs,
    responseTimeoutMs: config.crm.responseTimeoutMs,
    queueTimeoutMs: config.crm.queueTimeoutMs,
    limit: crmLimit,
    pool,
    ...(dependencies.observer ? { observer: dependencies.observer } : {}),
  };
  const client = new PhotoClient({ ...crmCalls, maxConcurrency: config.crm.maxConcurrency, maxQueue: config.crm.maxQueue });
  const records = new RecordsClient(crmCalls);
  // Photo downloads and deletes: each call in a slot of the same limit.
  const photoFiles = new PhotoFilesClient(crmCalls);
  // Signed links only in service mode: pass-through has no token of its own to fetch a linked photo with.
  const signer =
    config.photoLinks && config.serviceCredentials ? new PhotoLinkSigner(config.photoLinks.secret, config.photoLinks.ttlSeconds) : null;
  const photoUrls: PhotoUrlSettings = { publicUrl: config.publicUrl, signer };
  const accounts = config.serviceCredentials
    ? new AccountsClient({ connectTimeoutMs: config.crm.connectTimeoutMs, responseTimeoutMs: config.crm.responseTimeoutMs })
    : null;
  const credentials = credentialsFor(config, accounts, dependencies, shared?.tokens);
  let draining = false;
  const readiness: Readiness = {
    async check() {
      if (draining) return { ready: false, reason: 'draining: the gateway is shutting down' };
      const state = (await credentials.readiness?.()) ?? { ready: true };
      // Ready either way: a replica on its local limit still serves; the body says which budget it runs on.
      if (!sharedState || !sharedBudget) return state;
      const budget = sharedState.available
        ? `shared (${config.crm.maxConcurrency} across replicas)`
        : `unavailable: ${sharedState.detail} (local limit ${sharedBudget.localMax})`;
      return { ...state, sharedBudget: budget };
    },
  };
  const uploadObserver = dependencies.observer?.uploadEnded ? (dependencies.observer as UploadObserver) : undefined;
  const photos = new RecordPhotoService(client, credentials, {
    uploadIdleTimeoutMs: config.uploadIdleTimeoutMs,
    uploadMinBytesPerSecond: config.uploadMinBytesPerSecond,
    uploadMaxMs: config.uploadMaxSeconds * 1000,
    ...(uploadObserver ? { observer: uploadObserver } : {}),
    phonePhotos: {
      fitToLimitsByDefault: config.photos.fitToLimits,
      stripLocation: config.photos.stripLocation,
      stripMetadata: config.photos.stripMetadata,
      jpegQuality: config.photos.jpegQuality,
      // Resizes wait as CRM calls do (the same queue timeout and per-caller share), in a lane of their own.
      lane: new ResizeLane({
        concurrency: config.photos.resizeConcurrency,
        maxQueue: config.photos.resizeMaxQueue,
        queueTimeoutMs: config.crm.queueTimeoutMs,
        maxPerCaller: config.crm.maxConcurrencyPerCaller,
      }),
    },
  });
  const recordReads = new RecordPhotoReads(records, credentials);
  // A client may read nothing of a download for as long as it may send nothing of an upload, and must read at the
  // floor an upload must send at, within the same ceiling: a slow reader holds a CRM slot no longer than a slow sender.
  const photoDownloads = new PhotoDownloadService(photoFiles, credentials, {
    idleTimeoutMs: config.uploadIdleTimeoutMs,
    minBytesPerSecond: config.uploadMinBytesPerSecond,
    maxMs: config.uploadMaxSeconds * 1000,
  });
  const photoDeletes = new PhotoDeleteService(photoFiles, credentials);
  const graphiql = config.graphiql
    ? new GraphiQLPage(
        '/graphql',
        {
          title: 'CRM record photos',
          headers: JSON.stringify(dependencies.graphiqlHeaders ?? {}, null, 2),
          defaultTabs: [{ query: GRAPHIQL_UPLOAD, variables: GRAPHIQL_UPLOAD_VARIABLES }, { query: GRAPHIQL_RECORD }],
        },
        (message) => (dependencies.yogaLogger ?? console).error(message),
      )
    : null;
  const yoga = createYoga<NodeServerContext, GraphContext>({
    schema: buildSchema(config.crm.modules),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: { maskError: maskUnexpectedError },
    ...(dependencies.yogaLogger ? { logging: dependencies.yogaLogger } : {}),
    // Replaced by useBodyLimits: Yoga's limit copies each body into a stream our parser never reads.
    maxRequestBodySize: false,
    cors: corsFor(config.corsOrigins),
    // GraphiQL (page and assets) is served by its own plugin below; Yoga's is off.
    graphiql: false,
    plugins: [
      useHealthProbes(readiness),
      ...(graphiql ? [graphiql.plugin()] : []),
      useRequestId(),
      useResponseCompression(),
      ...(dependencies.plugins ?? []),
      // GET /photos/{module}/{recordId}: answered here, before any GraphQL plugin sees the request.
      usePhotoDownloads({
        modules: config.crm.modules,
        downloads: photoDownloads,
        apiKeys: config.apiKeys,
        serviceMode: config.serviceCredentials !== null,
        signer,
        callerOf,
        ...(dependencies.observer?.downloadEnded ? { observer: dependencies.observer as DownloadObserver } : {}),
      }),
      ...(config.apiKeys.length > 0 ? [useApiKeys(config.apiKeys, { bearer: config.serviceCredentials !== null })] : []),
      useCsrfPrevention(),
      useBodyLimits({ multipartBytes: MAX_MULTIPART_BYTES, otherBytes: MAX_JSON_BYTES }),
      // One file per request: files arrive in order and are not buffered, so a second one would wait on the first.
      useStreamingMultipart({
        maxFileBytes: MAX_PHOTO_BYTES + 1,
        maxFiles: 1,
        maxFieldBytes: 100_000,
        maxBodyBytes: MAX_MULTIPART_BYTES,
      }),
      // Tokens, aliases, depth, directives, cost, fields asked once, introspection: refused before anything runs.
      ...useOperationLimits(config.operationLimits, { introspection: config.introspection }),
      // Last: it sees which request parser, if any, the plugins before it chose.
      useRequestErrorCodes(),
    ],
    context: ({ request, req }) => ({
      callerAuthorization: request.headers.get('authorization'),
      caller: () => callerOf(request, req?.socket.remoteAddress),
      signal: request.signal,
      requestId: requestIdOf(request),
      photos,
      photoDeletes,
      // A loader per request: what one caller may see is not what the next may, so nothing is cached across requests.
      records: recordReads.loaderFor({ callerAuthorization: request.headers.get('authorization'), signal: request.signal }),
      photoUrls,
    }),
  });
  // Redis last: the slots of the calls just ended (or aborted) are given back first, each release bounded by the
  // command timeout, or they would stay taken in Redis for a lease after this replica is gone.
  const closeShared = async () => {
    await sharedBudget?.settled(config.crm.connectTimeoutMs);
    await sharedState?.close();
  };
  return {
    yoga,
    /** From now on /health/ready answers 503: the gateway is draining. */
    drain() {
      draining = true;
    },
    /** Uploads in flight to the CRM and waiting for a slot, right now (for gauges). */
    crmLoad: () => (sharedBudget ? { ...client.load, sharedBudget: sharedBudget.shared } : client.load),
    async close() {
      await Promise.all([client.close(), records.close(), photoFiles.close(), accounts?.close()]);
      await pool.close();
      await closeShared();
    },
    /** Aborts whatever is still in flight to the CRM and the accounts server. */
    async destroy() {
      await Promise.all([client.destroy(), records.destroy(), photoFiles.destroy(), accounts?.destroy(), pool.destroy()]);
      await closeShared();
    },
  };
}

function credentialsFor(
  config: GatewayConfig,
  accounts: AccountsClient | null,
  dependencies: GatewayDependencies,
  shared: SharedTokenStore | undefined,
): CredentialProvider {
  if (!config.serviceCredentials || !accounts) return new PassThroughCredentials();
  const accountsUrl = config.crm.accountsUrl ?? dependencies.accountsUrl;
  if (!accountsUrl) throw new Error('service mode needs an accounts origin');
  return new ServiceCredentials({ ...config.serviceCredentials, accountsUrl }, accounts, Date.now, dependencies.observer, shared);
}

export async function startGateway(config: GatewayConfig, dependencies: GatewayDependencies): Promise<Gateway> {
  // REDIS_URL: ioredis and redis-semaphore are loaded only then. Start-up waits for the first connection attempt
  // (bounded by CRM_CONNECT_TIMEOUT_MS), so no call runs before it is known, but not for Redis to be up.
  const { redis } = config;
  const shared = redis
    ? (await import('./crm/shared-replicas.ts')).sharedReplicas({ ...config, redis }, dependencies.crmOrigin, dependencies.observer)
    : null;
  await shared?.state.connect();
  const handler = createGatewayHandler(config, dependencies, shared);
  const { yoga } = handler;
  const server = createServer(serverTimeouts(config), yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    url: `http://${host}:${port}/graphql`,
    server,
    crmLoad: handler.crmLoad,
    async close({ graceMs = 0 } = {}) {
      handler.drain();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Connections that finish their request while we wait would otherwise idle in keep-alive.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      try {
        await closed;
      } finally {
        clearInterval(sweep);
        clearTimeout(cut);
      }
      // Every client connection is gone: whatever is still on its way to the CRM has no one to answer.
      await handler.destroy();
    },
  };
}
