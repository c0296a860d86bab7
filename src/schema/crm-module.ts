import type { CrmModule } from '../crm/modules.ts';
import type { Builder } from './builder.ts';

/** The enum's internal value is the CRM API name, so resolvers never translate. */
export function addCrmModuleEnum(builder: Builder, modules: readonly CrmModule[]) {
  return builder.enumType('CrmModule', {
    description: 'A CRM module whose records can carry a photo.',
    values: Object.fromEntries(
      modules.map((module) => [
        module.key,
        {
          value: module.apiName,
          description: module.custom
            ? `Custom module (API name \`${module.apiName}\`).`
            : `Standard module (API name \`${module.apiName}\`).`,
        },
      ]),
    ),
  });
}

export type CrmModuleEnum = ReturnType<typeof addCrmModuleEnum>;
