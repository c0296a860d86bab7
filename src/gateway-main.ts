import { isAbsolute, relative } from 'node:path';
import { ConfigError, loadConfig, type GatewayConfig } from './config.ts';
import { EmbeddedCrmMissingError, startEmbeddedCrm, type EmbeddedCrm } from './embedded-crm.ts';
import { startGateway } from './server.ts';
import { createLogger, downloadLog, sharedBudgetLog, uploadLog, useRequestErrorLog, yogaLogger } from './telemetry/logger.ts';
import { combineObservers } from './telemetry/observers.ts';
import { startTracing, tracingSettings, type TracingSettings } from './telemetry/tracing.ts';

function curlExample(url: string, authentication: string, photo: string): string {
  const query =
    'mutation ($file: Upload!) { uploadRecordPhoto(module: LEADS, recordId: \\"1000000000001\\", file: $file) ' +
    '{ __typename ... on UploadRecordPhotoSuccess { message photo { filename format width height byteSize } } ' +
    '... on CrmError { code message resolution } } }';
  return [
    `curl ${url} \\`,
    `  -H '${authentication}' \\`,
    `  -H 'apollo-require-preflight: true' \\`,
    `  -F operations='{"query":"${query}","variables":{"file":null}}' \\`,
    `  -F map='{"0":["variables.file"]}' \\`,
    `  -F ${shellWord(`0=@${photo}`)}`,
  ].join('\n');
}

/** One word for a POSIX shell: as it is when nothing in it is special, else single-quoted. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A path as short as it can be from where the command runs: relative inside the working folder, else absolute. */
function displayPath(path: string): string {
  const fromHere = relative(process.cwd(), path);
  return fromHere.startsWith('..') || isAbsolute(fromHere) ? path : fromHere;
}

async function main(): Promise<void> {
  const isTerminal = process.stdout.isTTY === true;
  let config: GatewayConfig;
  let traces: TracingSettings | null;
  try {
    config = loadConfig(process.env, { isTerminal });
    traces = tracingSettings(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      createLogger({ logLevel: 'info', logFormat: isTerminal ? 'pretty' : 'json' }).fatal(
        { variable: error.variable },
        `Configuration error: ${error.message}`,
      );
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.telemetry);
  // OpenTelemetry is loaded only when an OTLP endpoint is set.
  const tracing = await startTracing(traces, logger);

  let emulator: EmbeddedCrm | undefined;
  if (config.crm.apiDomain === undefined) {
    // No CRM configured, outside production: the emulator is the CRM (and its accounts server, in service mode).
    try {
      emulator = await startEmbeddedCrm(config.crm.modules.filter((m) => m.custom).map((m) => m.apiName));
    } catch (error) {
      if (!(error instanceof EmbeddedCrmMissingError)) throw error;
      logger.fatal(`Configuration error: ${error.message}`);
      process.exit(1);
    }
    logger.warn({ crm: emulator.origin }, 'No CRM configured: serving the embedded CRM emulator (not a real CRM; never in production)');
  }
  const crmOrigin = config.crm.apiDomain ?? emulator!.origin;
  // Prometheus metrics on a listener of their own (METRICS_PORT on HOST; 0: none), up before the gateway takes traffic.
  // prom-client (and the OpenTelemetry API it loads for exemplars) is loaded only when metrics are on.
  const prometheus = config.telemetry.metricsPort ? await import('./telemetry/metrics.ts') : undefined;
  const metrics = prometheus?.createMetrics({ modules: config.crm.modules.map((m) => m.apiName), serviceMode: config.serviceCredentials !== null, sharedBudget: config.redis !== null });
  const metricsServer = metrics && (await prometheus!.startMetricsServer(metrics.registry, { port: config.telemetry.metricsPort, host: config.host }));
  const gateway = await startGateway(config, {
    crmOrigin,
    accountsUrl: config.crm.accountsUrl ?? emulator?.origin,
    graphiqlHeaders: emulator && !config.serviceCredentials ? { Authorization: `Zoho-oauthtoken ${emulator.demoToken}` } : {},
    observer: combineObservers(uploadLog(logger), downloadLog(logger), sharedBudgetLog(logger), metrics?.observer),
    plugins: [...(tracing ? [tracing.plugin] : []), useRequestErrorLog(logger), ...(metrics ? [metrics.plugin] : [])],
    yogaLogger: yogaLogger(logger),
  });
  metrics?.readCrmLoadFrom(() => gateway.crmLoad());

  const service = config.serviceCredentials !== null;
  const lines = [`Record-photo gateway: GraphQL${config.graphiql ? ' and GraphiQL' : ''} at ${gateway.url}${config.graphiql ? '' : ' (GraphiQL off: GRAPHIQL=false)'}`];
  lines.push(
    emulator
      ? `CRM: the embedded emulator at ${emulator.origin} (set ZOHO_DC or ZOHO_API_DOMAIN to use a real CRM)`
      : `CRM: ${crmOrigin}/crm/${config.crm.apiVersion}`,
    service
      ? 'Credentials: service mode (the gateway mints CRM tokens; callers send one of GATEWAY_API_KEYS as x-api-key)'
      : `Credentials: pass-through (callers send their own CRM token)${config.apiKeys.length ? ', plus an API key as x-api-key' : ''}`,
  );
  // The demo token works only in pass-through: in service mode the gateway mints its own.
  if (emulator && !service) {
    lines.push(`Demo token: ${emulator.demoToken}  (records 1000000000001 to 1000000000010 in every module)`);
  }
  // Keys and tokens are never printed: the example names where they go.
  const authentication = service
    ? 'x-api-key: <one of GATEWAY_API_KEYS>'
    : `Authorization: Zoho-oauthtoken ${emulator ? emulator.demoToken : '<access token>'}`;
  lines.push(`Metrics: ${metricsServer ? metricsServer.url : 'off (METRICS_PORT=0)'}`);
  // With the emulator, the demo record's sample photo, named so the command works as pasted from the project folder.
  const photo = emulator ? displayPath(emulator.samplePhoto) : 'path/to/photo.png';
  lines.push('', 'Upload a photo:', curlExample(gateway.url, authentication, photo));
  if (!service && config.apiKeys.length) lines.push("  (add -H 'x-api-key: <one of GATEWAY_API_KEYS>')");
  logger.info(
    {
      url: gateway.url,
      crm: emulator ? 'emulator' : crmOrigin,
      credentials: service ? 'service' : 'pass-through',
      modules: config.crm.modules.map((m) => m.apiName),
      production: config.production,
      metrics: metricsServer?.url ?? null,
    },
    lines.join('\n'),
  );

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, `${signal}: no new connections; uploads in flight have ${config.shutdownGraceMs} ms to finish`);
    await gateway.close({ graceMs: config.shutdownGraceMs });
    await metricsServer?.close();
    await emulator?.close();
    await tracing?.shutdown();
    logger.info('Stopped.');
    logger.flush(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
