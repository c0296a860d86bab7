import type { CrmModule } from '../crm/modules.ts';
import type { Builder } from './builder.ts';
import type { CrmModuleEnum } from './crm-module.ts';
import { badRepresentation } from './entities.ts';
import { asksBeyondKey, existingRecord } from './record-photo.ts';

export interface CrmRecordShape {
  moduleApiName: string;
  id: string;
  /** Set once the record has been read from the CRM: its photo's version (null: none). */
  photoVersion?: string | null;
}

export function addCrmRecord(builder: Builder, moduleEnum: CrmModuleEnum, modules: readonly CrmModule[]) {
  const CrmRecord = builder.objectRef<CrmRecordShape>('CrmRecord').implement({
    description: 'A CRM record, as an entity other subgraphs can extend or reference.',
    fields: (t) => ({
      module: t.field({ type: moduleEnum, resolve: (record) => record.moduleApiName }),
      id: t.exposeID('id'),
    }),
  });

  builder.asEntity(CrmRecord, {
    key: builder.selection<{ module: string; id: string }>('module id'),
    // Representations carry the enum's name (LEADS), not its internal value (Leads).
    resolveReference: ({ module, id }, context, info) => {
      // `_Any` lets anything through; the key fields are what CrmRecord serves (an enum name and an ID), as strings.
      if (typeof module !== 'string' || typeof id !== 'string') {
        throw badRepresentation('A CrmRecord representation needs its key fields module and id, each a string.');
      }
      const found = modules.find((candidate) => candidate.key === module);
      if (!found) return null;
      const record = { moduleApiName: found.apiName, id };
      // Asked for its photo: null when the CRM does not return the record (one batched read for all of them).
      return asksBeyondKey(info) ? existingRecord(context, record) : record;
    },
  });
  return CrmRecord;
}
