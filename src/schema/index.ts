import { printSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLSchema } from 'graphql';
import type { CrmModule } from '../crm/modules.ts';
import { createBuilder } from './builder.ts';
import { addCrmErrors } from './crm-errors.ts';
import { addCrmModuleEnum } from './crm-module.ts';
import { addCrmRecord } from './crm-record.ts';
import { guardEntityRepresentations } from './entities.ts';
import { addRecordPhoto } from './record-photo.ts';
import { addDeleteRecordPhoto } from './delete-record-photo.ts';
import { addUploadRecordPhoto } from './upload-record-photo.ts';

/** The subgraph's executable schema for a set of CRM modules. */
export function buildSchema(modules: readonly CrmModule[]): GraphQLSchema {
  const builder = createBuilder();
  const moduleEnum = addCrmModuleEnum(builder, modules);
  const crmRecord = addCrmRecord(builder, moduleEnum, modules);
  const failures = addCrmErrors(builder);
  addUploadRecordPhoto(builder, moduleEnum, crmRecord, failures);
  addDeleteRecordPhoto(builder, moduleEnum, crmRecord, failures);
  addRecordPhoto(builder, moduleEnum, crmRecord);
  builder.queryType({});
  return guardEntityRepresentations(builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' }));
}

/** The schema as SDL, with its federation directives: what `schema/schema.graphql` holds. */
export function printSchemaSdl(schema: GraphQLSchema): string {
  return `${printSubgraphSchema(schema).trim()}\n`;
}
