import { readFile } from 'node:fs/promises';
import { executeCodegen } from '@graphql-codegen/cli';
import {
  isEnumType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  Kind,
  parse,
  print,
  type GraphQLNamedType,
  type GraphQLSchema,
  type ObjectTypeExtensionNode,
  type TypeDefinitionNode,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { moduleCatalog } from '../../src/crm/modules.ts';
import { buildSchema } from '../../src/schema/index.ts';
import codegenConfig from '../../codegen.ts';

const contract = parse(await readFile(new URL('../fixtures/contract.graphql', import.meta.url), 'utf8'));
// `extend type X { … }` in a later section of the contract: X must have those fields too.
const definitions = contract.definitions.filter(
  (d): d is TypeDefinitionNode | ObjectTypeExtensionNode => 'name' in d && d.kind !== Kind.DIRECTIVE_DEFINITION,
);

function fieldsOf(type: GraphQLNamedType): Record<string, { type: string; args: Record<string, string> }> {
  if (!isObjectType(type) && !isInterfaceType(type)) return {};
  return Object.fromEntries(
    Object.values(type.getFields()).map((f) => [
      f.name,
      { type: String(f.type), args: Object.fromEntries(f.args.map((a) => [a.name, String(a.type)])) },
    ]),
  );
}

function checkContract(schema: GraphQLSchema) {
  for (const definition of definitions) {
    const name = definition.name.value;
    const type = schema.getType(name);
    expect(type, `type ${name}`).toBeDefined();
    if (!type) continue;
    switch (definition.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION: {
        const object = definition.kind !== Kind.INTERFACE_TYPE_DEFINITION;
        expect(object ? isObjectType(type) : isInterfaceType(type), `${name} is ${object ? 'an object' : 'an interface'} type`).toBe(true);
        const actual = fieldsOf(type);
        for (const field of definition.fields ?? []) {
          const fieldName = `${name}.${field.name.value}`;
          expect(actual[field.name.value]?.type, fieldName).toBe(print(field.type));
          for (const arg of field.arguments ?? []) {
            expect(actual[field.name.value]?.args[arg.name.value], `${fieldName}(${arg.name.value})`).toBe(print(arg.type));
          }
        }
        for (const iface of definition.interfaces ?? []) {
          expect(isObjectType(type) && type.getInterfaces().map((i) => i.name), `${name} implements`).toContain(iface.name.value);
        }
        break;
      }
      case Kind.ENUM_TYPE_DEFINITION:
        expect(isEnumType(type) && type.getValues().map((v) => v.name), `${name} values`).toEqual(
          expect.arrayContaining((definition.values ?? []).map((v) => v.name.value)),
        );
        break;
      case Kind.UNION_TYPE_DEFINITION:
        expect(isUnionType(type) && type.getTypes().map((t) => t.name).sort(), `${name} members`).toEqual(
          (definition.types ?? []).map((t) => t.name.value).sort(),
        );
        break;
      case Kind.SCALAR_TYPE_DEFINITION:
        expect(isScalarType(type), `${name} is a scalar`).toBe(true);
        break;
      default:
        throw new Error(`the contract has a ${definition.kind} this test does not check`);
    }
  }
}

describe('the schema is the contract', () => {
  it('has every type, field, argument, enum value and union member of contract.graphql', () => {
    expect(definitions.length).toBeGreaterThan(15);
    checkContract(buildSchema(moduleCatalog([])));
  });

  it('still holds with custom modules, which become CrmModule values described by their API names', () => {
    const schema = buildSchema(moduleCatalog(['Vehicles', 'CustomModule1', 'Site_Visits']));
    checkContract(schema);
    const crmModule = schema.getType('CrmModule');
    if (!isEnumType(crmModule)) throw new Error('CrmModule is not an enum');
    expect(crmModule.getValues().map((v) => v.name).sort()).toEqual(
      ['LEADS', 'CONTACTS', 'ACCOUNTS', 'PRODUCTS', 'DEALS', 'VENDORS', 'VEHICLES', 'CUSTOM_MODULE1', 'SITE_VISITS'].sort(),
    );
    expect(crmModule.getValue('CUSTOM_MODULE1')?.description).toContain('CustomModule1');
    expect(crmModule.getValue('CUSTOM_MODULE1')?.value).toBe('CustomModule1');
  });

  it('marks CrmRecord as an entity keyed by module and id', async () => {
    const { printSchemaSdl } = await import('../../src/schema/index.ts');
    expect(printSchemaSdl(buildSchema(moduleCatalog([])))).toMatch(/type CrmRecord\s+@key\(fields: "module id"\)/);
  });
});

describe('schema/schema.graphql', () => {
  it('is exactly what codegen.ts prints from the code', async () => {
    // What `graphql-codegen --check` does, in this process: generate every file, compare it with the committed one.
    const { result, error } = await executeCodegen({ ...codegenConfig, cwd: process.cwd() });
    expect(error).toBeNull();
    expect(result.map((file) => file.filename).sort()).toEqual(Object.keys(codegenConfig.generates).sort());
    for (const file of result) expect(await readFile(file.filename, 'utf8'), `${file.filename} is stale: npm run codegen`).toBe(file.content);
  }, 60_000);
});
