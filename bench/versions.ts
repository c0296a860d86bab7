/** The versions of the packages a path is built on, as installed: each row of the report names them. */
import type { PathKind } from './cells.ts';
import { readFileSync } from 'node:fs';

/** `name version` from node_modules, e.g. `@apollo/server 5.5.1`. */
export function installed(root: string, name: string): string {
  const manifest = JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')) as { version: string };
  return `${name} ${manifest.version}`;
}

const BUILT_ON: Record<PathKind, string[]> = {
  gateway: ['graphql-yoga', 'graphql-upload-minimal', 'undici'],
  gatewayAt10: ['graphql-yoga', 'graphql-upload-minimal', 'undici'],
  direct: [],
  raw: ['undici'],
  yoga: ['graphql-yoga', 'graphql-upload-minimal', 'undici'],
  apollo: ['@apollo/server', '@as-integrations/express5', 'express', 'graphql-upload', 'fs-capacitor', 'undici'],
  multer: ['express', 'multer', 'undici'],
  buffering: ['graphql-yoga', '@whatwg-node/fetch'],
};

/** Per path, the packages it is built on with their installed versions. */
export function pathVersions(root: string): Record<PathKind, string> {
  return Object.fromEntries(
    Object.entries(BUILT_ON).map(([path, names]) => [path, names.map((name) => installed(root, name)).join(', ')]),
  ) as Record<PathKind, string>;
}
