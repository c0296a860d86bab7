import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.ts';
import { crmSpanAttributes } from '../../src/telemetry/tracing-sdk.ts';
import { tracingSettings } from '../../src/telemetry/tracing.ts';
import { modulesLoadedByAnUpload } from '../support/module-load-run.ts';
import type { Started } from '../support/process.ts';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

describe('tracingSettings', () => {
  it('is off without an OTLP endpoint, or when the SDK or the trace exporter is switched off', () => {
    expect(tracingSettings({})).toBeNull();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBeNull();
    expect(tracingSettings({ ...ENDPOINT, OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(tracingSettings({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
  });

  it('is on with either endpoint variable; http/protobuf and parent-based always-on by default', () => {
    expect(tracingSettings(ENDPOINT)).toEqual({
      endpointVariable: 'OTEL_EXPORTER_OTLP_ENDPOINT',
      protocol: 'http/protobuf',
      defaultServiceName: 'crm-record-photos',
      sampler: { name: 'parentbased_always_on', ratio: 1 },
      batch: {},
    });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector.example.com/v1/traces' })?.endpointVariable).toBe(
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    );
  });

  it('reads the protocol, the sampler and the batch processor from the standard variables', () => {
    const settings = tracingSettings({
      ...ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BSP_EXPORT_TIMEOUT: '5000',
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '256',
    });
    expect(settings).toMatchObject({
      protocol: 'http/json',
      sampler: { name: 'parentbased_traceidratio', ratio: 0.25 },
      batch: { scheduledDelayMillis: 100, exportTimeoutMillis: 5000, maxQueueSize: 4096, maxExportBatchSize: 256 },
    });
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG'],
    [{ OTEL_BSP_SCHEDULE_DELAY: 'soon' }, 'OTEL_BSP_SCHEDULE_DELAY'],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  ])('refuses %j, naming the variable', (env, variable) => {
    let thrown: unknown;
    try {
      tracingSettings({ ...ENDPOINT, ...env });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe(variable);
  });
});

describe('CRM span URLs', () => {
  it('keep restrict_triggers and redact any other query value', () => {
    expect(crmSpanAttributes({ origin: 'https://www.zohoapis.eu', path: '/crm/v7/Leads/1/photo?restrict_triggers=workflow' })).toEqual({
      'url.full': 'https://www.zohoapis.eu/crm/v7/Leads/1/photo?restrict_triggers=workflow',
      'url.query': 'restrict_triggers=workflow',
    });
    expect(crmSpanAttributes({ origin: 'https://accounts.zoho.eu', path: '/oauth/v2/token?refresh_token=1000.abc&client_secret=s3cret' })).toEqual({
      'url.full': 'https://accounts.zoho.eu/oauth/v2/token?refresh_token=REDACTED&client_secret=REDACTED',
      'url.query': 'refresh_token=REDACTED&client_secret=REDACTED',
    });
  });
});

describe('with no OTLP endpoint set', () => {
  const running: Started[] = [];
  afterAll(async () => {
    await Promise.all(running.map((app) => app.stop()));
  });

  const startAndUpload = (env: Record<string, string>) => modulesLoadedByAnUpload(env, running);

  it('loads nothing of OpenTelemetry and leaves undici’s diagnostics channels alone, through start-up and an upload', async () => {
    const output = await startAndUpload({});
    expect(output).toContain('module-load '); // the recorder ran
    expect(output).not.toMatch(/module-load \S*@opentelemetry/);
    expect(output).toContain('undici-request-subscribers false');
  });

  it('(control: with an endpoint set, the SDK and the undici subscriber are there)', async () => {
    // A collector that takes anything, so that the export at shutdown is quick.
    const sink = createServer((req, res) => req.resume().on('end', () => res.end()));
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
      const output = await startAndUpload({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
      expect(output).toMatch(/module-load \S*@opentelemetry\/sdk-trace\//);
      expect(output).toContain('undici-request-subscribers true');
    } finally {
      sink.closeAllConnections();
      await new Promise((resolve) => sink.close(resolve));
    }
  });
});
