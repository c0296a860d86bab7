import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse, type DocumentNode } from 'graphql';
import { dataOf, postJson } from './graphql-http.ts';

export type CompositionHint = NonNullable<ReturnType<typeof composeServices>['hints']>[number];

export interface SubgraphService {
  name: string;
  url: string;
  typeDefs: DocumentNode;
}

export interface Supergraph {
  sdl: string;
  /** The supergraph SDL written to a temp file, as a router reads it. */
  path: string;
  /** Informational hints (nothing at WARN level gets this far). */
  hints: CompositionHint[];
  dispose(): Promise<void>;
}

/** A subgraph's SDL fetched over HTTP with `_service { sdl }`, as rover and routers do. */
export async function fetchSubgraph(name: string, url: string): Promise<SubgraphService> {
  const { _service } = dataOf(await postJson<{ _service: { sdl: string } }>(url, '{ _service { sdl } }'));
  return { name, url, typeDefs: parse(_service.sdl) };
}

/** Composes with @apollo/composition; any error, or any hint at WARN level, throws with every message. */
export function composeOrThrow(services: SubgraphService[]): { supergraphSdl: string; hints: CompositionHint[] } {
  const result = composeServices(services);
  if (result.errors) {
    const codes = result.errors.map((e) => `${String(e.extensions['code'])}: ${e.message}`);
    throw new Error(`composition failed:\n${codes.join('\n')}`);
  }
  // Hint levels are WARN, INFO and DEBUG; a WARN flags a likely mistake, so it fails like an error.
  const warnings = result.hints.filter((hint) => hint.definition.level.name === 'WARN');
  if (warnings.length) throw new Error(`composition warned:\n${warnings.map(String).join('\n')}`);
  return { supergraphSdl: result.supergraphSdl, hints: result.hints };
}

/** Fetches and composes the subgraphs, and writes the supergraph SDL to a temp file for a router. */
export async function composeSupergraph(subgraphs: { name: string; url: string }[]): Promise<Supergraph> {
  const services = await Promise.all(subgraphs.map(({ name, url }) => fetchSubgraph(name, url)));
  const { supergraphSdl, hints } = composeOrThrow(services);
  const dir = await mkdtemp(join(tmpdir(), 'supergraph-'));
  const path = join(dir, 'supergraph.graphql');
  await writeFile(path, supergraphSdl);
  return { sdl: supergraphSdl, path, hints, dispose: () => rm(dir, { recursive: true, force: true }) };
}
