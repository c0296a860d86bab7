import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { Kind, parse } from 'graphql';

const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Whether `path`, walked the way the parser walks it through the objects JSON.parse made of `operations`, stays on
 * own properties. A variable named `values` or `keys` is fine; a path through an inherited member
 * (`variables.hasOwnProperty.call`) or into a string (`query.at.call`) is not. A path to nothing is left for the
 * parser to report.
 */
function ownPath(operations: unknown, path: string): boolean {
  const segments = path.split('.');
  const last = segments.pop()!;
  let target: unknown = operations;
  for (const segment of segments) {
    if (PROTOTYPE_KEYS.has(segment)) return false;
    if (target === null || target === undefined || !(segment in Object(target))) return true;
    if (typeof target !== 'object' || !Object.hasOwn(target, segment)) return false;
    target = (target as Record<string, unknown>)[segment];
  }
  return !PROTOTYPE_KEYS.has(last);
}

interface MapFields {
  map: object;
  /** Every non-blank string path of the map, in order. */
  paths: string[];
  /** The parsed `operations` field; undefined when the map came first (the parser refuses that itself). */
  operations: unknown;
}

/** The map and operations fields, parsed once; null when either is malformed JSON (the parser answers that). */
function parsedFields(mapField: string, operationsField: string | undefined): MapFields | null {
  let map: unknown;
  let operations: unknown;
  try {
    map = JSON.parse(mapField);
    operations = operationsField === undefined ? undefined : JSON.parse(operationsField);
  } catch {
    return null;
  }
  if (typeof map !== 'object' || map === null) return null;
  const paths = Object.values(map)
    .filter((entry): entry is unknown[] => Array.isArray(entry))
    .flat()
    .filter((path): path is string => typeof path === 'string' && path.trim() !== '');
  return { map, paths, operations };
}

/** The first of the map's paths that does not stay inside the operations' own properties, or null. */
function hostileMapPath({ paths, operations }: MapFields): string | null {
  if (operations === undefined) return null;
  return paths.find((path) => !ownPath(operations, path)) ?? null;
}

/** Enough tokens for any operation worth uploading with; a longer document is left for the operation limits. */
const MAX_QUERY_TOKENS = 10_000;
/** Variables named in a refusal, at most. */
const NAMED_VARIABLES = 10;

/** Documents already read, by their text: clients send the same few upload operations over and over. */
const DECLARED = new Map<string, string[] | null>();
const DECLARED_KEPT = 100;
const DECLARED_MAX_LENGTH = 10_000;

/** The variables `query` declares, in all its operations; null when it is no document (Yoga reports that). */
function declaredVariables(query: unknown): string[] | null {
  if (typeof query !== 'string') return null;
  const known = DECLARED.get(query);
  if (known !== undefined) return known;
  let declared: string[] | null;
  try {
    declared = parse(query, { noLocation: true, maxTokens: MAX_QUERY_TOKENS }).definitions.flatMap((definition) =>
      definition.kind === Kind.OPERATION_DEFINITION ? (definition.variableDefinitions ?? []).map((v) => v.variable.name.value) : [],
    );
  } catch {
    declared = null;
  }
  // Only short documents are kept, the oldest going first once the map is full: a stream of distinct or long
  // documents cannot grow it past about 1 MB.
  if (query.length <= DECLARED_MAX_LENGTH) {
    if (DECLARED.size >= DECLARED_KEPT) DECLARED.delete(DECLARED.keys().next().value!);
    DECLARED.set(query, declared);
  }
  return declared;
}

/**
 * The refusal for the first map path that does not put a file into a variable the operation declares: a file is
 * only ever the value of a variable, and one mapped into `query` or into an undeclared name would otherwise surface
 * as a puzzle ("query param … given object", or "$file must not be null"). Null when every path does, or when the
 * operations are missing or a batch (Yoga refuses those with messages of its own).
 */
function misplacedMapPath({ paths, operations }: MapFields): string | null {
  if (typeof operations !== 'object' || operations === null || Array.isArray(operations)) return null;
  let declared: string[] | null | undefined;
  for (const path of paths) {
    const [root, name] = path.split('.');
    const shown = path.slice(0, 100);
    if (root !== 'variables' || name === undefined || name === '') {
      return `The 'map' path '${shown}' does not lead into the variables: a file can only be the value of a variable (e.g. 'variables.file').`;
    }
    declared ??= declaredVariables((operations as { query?: unknown }).query);
    if (declared !== null && !declared.includes(name)) {
      const listed = declared.slice(0, NAMED_VARIABLES).map((v) => `$${v}`).join(', ') + (declared.length > NAMED_VARIABLES ? ', …' : '');
      const known = declared.length ? `it declares ${listed}` : 'it declares none';
      return `The 'map' path '${shown}' names no variable of the operation (${known}): map each file to a variable declared as Upload.`;
    }
  }
  return null;
}

/** The first file the map sends to more than one place, with how many, or null. */
function fileMappedTwice(map: object): { file: string; places: number } | null {
  for (const [file, paths] of Object.entries(map)) {
    const places = Array.isArray(paths) ? paths.filter((path) => typeof path === 'string' && path.trim() !== '').length : 0;
    if (places > 1) return { file, places };
  }
  return null;
}

/** Why the map is refused before any file is read, or null: the checks of guardMultipartParser, in order. */
export function mapRefusal(mapField: string, operationsField: string | undefined): string | null {
  const fields = parsedFields(mapField, operationsField);
  if (!fields) return null;
  const hostile = hostileMapPath(fields);
  if (hostile !== null) return `The 'map' path '${hostile.slice(0, 100)}' leads outside the operations.`;
  const misplaced = misplacedMapPath(fields);
  if (misplaced !== null) return misplaced;
  const shared = fileMappedTwice(fields.map);
  if (shared !== null) return `The 'map' sends file '${shared.file.slice(0, 100)}' to ${shared.places} places; a file may go to one place only.`;
  return null;
}

/**
 * Guards graphql-upload-minimal's multipart parser, which is piped from `req` inside processRequest:
 * - it can emit a second 'error' after its own handler is gone (a malformed part header): swallowed,
 *   since the first one already failed the request;
 * - its map handling assigns through inherited properties (`variables.hasOwnProperty.call` would
 *   poison Object.prototype for the whole process): such a map becomes a parser error instead;
 * - a file mapped anywhere but into a declared variable: refused with a message that says so;
 * - one file sent to two places (two variables, two uploads) would be streamed to the CRM once and fail the second
 *   time, after the first upload replaced the record's photo: such a map is refused before anything is read.
 * Call it just before processRequest; it applies to the next pipe from `req` only.
 */
export function guardMultipartParser(req: IncomingMessage): void {
  const pipe = req.pipe;
  req.pipe = function guardedPipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    req.pipe = pipe;
    const parser = destination as unknown as Writable;
    parser.on('error', () => {});
    const emit = parser.emit.bind(parser) as (event: string | symbol, ...args: unknown[]) => boolean;
    let operationsField: string | undefined;
    parser.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if (event === 'field' && args[0] === 'operations' && typeof args[1] === 'string') operationsField = args[1];
      if (event === 'field' && args[0] === 'map' && typeof args[1] === 'string') {
        const refusal = mapRefusal(args[1], operationsField);
        if (refusal !== null) return emit('error', new Error(refusal));
      }
      return emit(event, ...args);
    };
    return pipe.call(req, destination, options) as T;
  };
}
