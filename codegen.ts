import type { CodegenConfig } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';
import { moduleCatalog } from './src/crm/modules.ts';
import { buildSchema, printSchemaSdl } from './src/schema/index.ts';

// The committed schema is the one served when no custom modules are configured.
const schema = buildSchema(moduleCatalog([]));

const config: CodegenConfig = {
  schema: printSchema(schema),
  generates: {
    // The subgraph SDL with its federation directives, as printed by @apollo/subgraph.
    'schema/schema.graphql': {
      plugins: [{ add: { content: printSchemaSdl(schema), placement: 'content' } }],
    },
  },
};

export default config;
