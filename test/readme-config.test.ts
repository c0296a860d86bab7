import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';

const read = (path: string) => readFile(new URL(`../${path}`, import.meta.url), 'utf8');

/** Variable names quoted in a source file: what it reads from the environment. */
function variablesIn(source: string): Set<string> {
  return new Set([...source.matchAll(/['"`]((?:[A-Z][A-Z0-9]*_)+[A-Z0-9]+|PORT|HOST|GRAPHIQL)['"`]/g)].map((match) => match[1]!));
}

/** Variable names in the first cell of the README's table rows: what it documents. */
function documentedIn(readme: string): Set<string> {
  const rows = readme.split('\n').filter((line) => /^\| `[A-Z]/.test(line));
  return new Set(rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!)));
}

it('the README documents every variable the gateway reads, and reads every variable it documents', async () => {
  const readme = documentedIn(await read('README.md'));
  const config = variablesIn(await read('src/config.ts'));
  config.delete('NODE_ENV'); // explained in prose (Operating it), not a setting of this gateway's own
  const tracing = [...variablesIn(await read('src/telemetry/tracing.ts'))].filter((name) => name.startsWith('OTEL_'));
  expect(config.size).toBeGreaterThan(30);
  expect([...config].filter((name) => !readme.has(name))).toEqual([]);
  // The OpenTelemetry exporters and resource detector read these themselves, as the standard says.
  const readBySdk = ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_SERVICE_NAME'];
  const known = new Set([...config, ...tracing, ...readBySdk]);
  expect([...readme].filter((name) => !known.has(name))).toEqual([]);
});
