import { expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { sample } from '../support/metrics-stack.ts';
import { freePort } from '../support/ports.ts';
import { NODE, start } from '../support/process.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// `node src/main.ts` as operators run it: metrics on METRICS_PORT, on HOST, never on the GraphQL port.

it('serves /metrics on METRICS_PORT, counting uploads alongside the logs', async () => {
  const metricsPort = await freePort();
  const app = start(NODE, ['src/main.ts'], { env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: String(metricsPort) } });
  try {
    const url = (await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/))[1]!;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    expect(app.output()).toContain(`Metrics: ${metricsUrl}`);
    expect(resultOf(await uploadPhoto(url, { file: png(8, 8) })).__typename).toBe('UploadRecordPhotoSuccess');
    const text = await (await fetch(metricsUrl)).text();
    expect(sample(text, 'crm_photo_uploads_total', { module: 'Leads', outcome: 'UploadRecordPhotoSuccess', code: '' })).toBe(1);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    await app.waitFor(/upload ended/); // the log observer heard the same upload
    const onGraphqlPort = await fetch(new URL('/metrics', url));
    expect(onGraphqlPort.status).toBe(404);
    expect(await onGraphqlPort.text()).not.toContain('crm_photo_uploads_total');
    expect(await app.stop()).toBe(0);
    // Closed with the gateway.
    await expect(fetch(metricsUrl)).rejects.toThrow();
  } finally {
    await app.stop();
  }
});

it('METRICS_PORT=0: no metrics listener', async () => {
  const app = start(NODE, ['src/main.ts'], { env: { PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0' } });
  try {
    await app.waitFor(/GraphQL(?: and GraphiQL)? at (http:\/\/\S+\/graphql)/);
    expect(app.output()).toContain('Metrics: off (METRICS_PORT=0)');
  } finally {
    await app.stop();
  }
});
