import { loadConfig } from '../../src/config.ts';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { startGateway, type Gateway } from '../../src/server.ts';
import { createMetrics, startMetricsServer, type GatewayMetrics, type MetricsServer } from '../../src/telemetry/metrics.ts';
import { EmulatorControl } from './emulator-control.ts';

export interface MetricsStack {
  emulator: CrmEmulator;
  crm: EmulatorControl;
  gateway: Gateway;
  /** The GraphQL endpoint. */
  url: string;
  metrics: GatewayMetrics;
  metricsServer: MetricsServer;
  /** The metrics listener's /metrics, on its own port. */
  metricsUrl: string;
  /** GET /metrics: the text Prometheus would scrape. */
  scrape(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The emulator and the gateway on loopback ephemeral ports with Prometheus metrics wired as `npm start` wires them:
 * the metrics observer and plugin in the gateway, the listener on a port of its own (METRICS_PORT, default any free one).
 */
export async function startMetricsStack(env: Record<string, string> = {}): Promise<MetricsStack> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', ...env });
  const emulator = await startCrmEmulator({ customModules: config.crm.modules.filter((m) => m.custom).map((m) => m.apiName) });
  const metrics = createMetrics({
    modules: config.crm.modules.map((m) => m.apiName),
    serviceMode: config.serviceCredentials !== null,
  });
  const gateway = await startGateway(config, {
    crmOrigin: emulator.origin,
    accountsUrl: emulator.origin,
    observer: metrics.observer,
    plugins: [metrics.plugin],
  });
  metrics.readCrmLoadFrom(() => gateway.crmLoad());
  const metricsServer = await startMetricsServer(metrics.registry, { port: config.telemetry.metricsPort, host: config.host });
  return {
    emulator,
    crm: new EmulatorControl(emulator.origin),
    gateway,
    url: gateway.url,
    metrics,
    metricsServer,
    metricsUrl: metricsServer.url,
    async scrape() {
      const response = await fetch(metricsServer.url);
      if (response.status !== 200) throw new Error(`GET /metrics: HTTP ${response.status}`);
      return response.text();
    },
    async close() {
      await metricsServer.close();
      gateway.server.closeAllConnections();
      await gateway.close();
      await emulator.close();
    },
  };
}

/**
 * The value of one sample in Prometheus' text format: `name{labels}` with the labels in any order, or undefined.
 * `labels` must name every label the sample has.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
    if ([...have].sort().join(',') === wanted) return Number(match[3]);
  }
  return undefined;
}
