import { readFile } from 'node:fs/promises';
import { auditServer, type AuditResult } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/process.ts';
import { useStack } from '../support/stack.ts';

// The graphql-http package's audit of a GraphQL-over-HTTP server (every MUST, SHOULD and MAY it checks), run
// against the gateway as a browser client would reach it: with a preflight-forcing header.

const stack = useStack({}, { resetEachTest: false });

function fetchWith(headers: Record<string, string>): typeof fetch {
  return (input, init) => {
    const merged = new Headers(init?.headers);
    for (const [name, value] of Object.entries(headers)) merged.set(name, value);
    return fetch(input, { ...init, headers: merged });
  };
}

function failed(results: AuditResult[]): string[] {
  return results.filter((result) => result.status !== 'ok').map((result) => `${result.status}: ${result.name}`);
}

/** The audit checks the README lists as refused by CSRF protection (the bullets under its audit paragraph). */
async function readmeRefusedChecks(): Promise<string[]> {
  const readme = await readFile(`${PROJECT_ROOT}README.md`, 'utf8');
  const at = readme.indexOf('`graphql-http` audit');
  expect(at).toBeGreaterThan(0);
  const list = readme.slice(at).split('\n\n')[1] ?? '';
  return [...list.matchAll(/^- "([^"]+)"/gm)].map((m) => m[1]!);
}

describe('graphql-http server audit', () => {
  it('passes every check with apollo-require-preflight', async () => {
    const results = await auditServer({ url: stack.url, fetchFn: fetchWith({ 'apollo-require-preflight': 'true' }) });
    // graphql-http 1.23's audit: the README gives the count.
    expect(results.length).toBe(61);
    expect(failed(results)).toEqual([]);
  });

  it('without it, CSRF protection refuses exactly the optional GET checks the README lists, and passes the rest', async () => {
    const results = await auditServer({ url: stack.url, fetchFn: fetchWith({}) });
    const refused = results.filter((result) => result.status !== 'ok');
    // Only MAY checks, and only GETs (a browser sends a GET cross-site without a preflight).
    for (const result of refused) {
      expect(result.status, result.name).toBe('notice');
      expect(result.name, result.name).toMatch(/GET/);
    }
    expect(refused.map((result) => result.name).sort()).toEqual((await readmeRefusedChecks()).sort());
  });
});
