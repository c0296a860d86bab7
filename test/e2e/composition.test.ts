import { readFile } from 'node:fs/promises';
import { buildASTSchema, isEnumType, isObjectType, parse, print, type DocumentNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.ts';
import { NOTES_TYPE_DEFS, startNotesSubgraph, type NotesSubgraph } from './fixtures/notes-subgraph.ts';
import { composeOrThrow, composeSupergraph, fetchSubgraph, type Supergraph } from './support/supergraph.ts';

// Our subgraph and another team's subgraph compose into one supergraph, with no errors and no warnings.

let stack: Stack;
let notes: NotesSubgraph;
let supergraph: Supergraph;
beforeAll(async () => {
  stack = await startStack();
  notes = await startNotesSubgraph();
  supergraph = await composeSupergraph([
    { name: 'photos', url: stack.url },
    { name: 'notes', url: notes.url },
  ]);
});
afterAll(async () => {
  await supergraph?.dispose();
  await notes?.close();
  await stack?.close();
});

/** The join directives on a type, as `graph key` strings. */
function joinTypes(sdl: string, typeName: string): string[] {
  const definition = parse(sdl).definitions.find((d) => 'name' in d && d.name?.value === typeName);
  return (definition && 'directives' in definition ? (definition.directives ?? []) : [])
    .filter((d) => d.name.value === 'join__type')
    .map((d) => d.arguments!.map((a) => print(a.value)).join(' '));
}

describe('composition with a subgraph that extends CrmRecord', () => {
  it('writes the supergraph for the router, with both subgraphs', async () => {
    expect(await readFile(supergraph.path, 'utf8')).toBe(supergraph.sdl);
    expect(supergraph.sdl).toMatch(/PHOTOS @join__graph\(name: "photos", url: "http:\/\/127\.0\.0\.1:\d+\/graphql"\)/);
    expect(supergraph.sdl).toMatch(/NOTES @join__graph\(name: "notes", url: "http:\/\/127\.0\.0\.1:\d+\/graphql"\)/);
  });

  it('makes CrmRecord one entity keyed on module and id in both subgraphs', () => {
    expect(joinTypes(supergraph.sdl, 'CrmRecord').sort()).toEqual(['NOTES "module id"', 'PHOTOS "module id"']);
    const schema = buildASTSchema(parse(supergraph.sdl), { assumeValidSDL: true });
    const record = schema.getType('CrmRecord');
    expect(isObjectType(record) && Object.keys(record.getFields()).sort()).toEqual(['id', 'module', 'notes', 'photo']);
  });

  it('exposes the upload mutation with its union and the Upload scalar', () => {
    const schema = buildASTSchema(parse(supergraph.sdl), { assumeValidSDL: true });
    const mutation = schema.getMutationType()?.getFields()['uploadRecordPhoto'];
    expect(String(mutation?.type)).toBe('UploadRecordPhotoResult!');
    expect(mutation?.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual([
      'module: CrmModule!',
      'recordId: ID!',
      'file: Upload!',
      'restrictWorkflow: Boolean',
      'fitToLimits: Boolean',
    ]);
    const modules = schema.getType('CrmModule');
    expect(isEnumType(modules) && modules.getValues().map((v) => v.name)).toEqual(['LEADS', 'CONTACTS', 'ACCOUNTS', 'PRODUCTS', 'DEALS', 'VENDORS']);
  });

  it('fails when the other subgraph declares CrmModule with different values (the check can fail)', async () => {
    const photos = await fetchSubgraph('photos', stack.url);
    const drifted: DocumentNode = parse(print(NOTES_TYPE_DEFS).replace(/\bVENDORS\b/, 'CAMPAIGNS'));
    expect(() => composeOrThrow([photos, { name: 'notes', url: notes.url, typeDefs: drifted }])).toThrow(/ENUM_VALUE_MISMATCH/);
  });
});
