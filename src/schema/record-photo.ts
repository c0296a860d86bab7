import { GraphQLError, Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import type { CrmFailure } from '../photos/failures.ts';
import { photoUrl, type PhotoRef } from '../photos/photo-url.ts';
import { RecordReadCancelledError, RecordReadRefusedError, type RecordState } from '../photos/read-record-photos.ts';
import type { Builder, GraphContext } from './builder.ts';
import type { CrmModuleEnum } from './crm-module.ts';
import type { addCrmRecord, CrmRecordShape } from './crm-record.ts';

/**
 * A refused read as the error of the field it leaves without a value: `extensions.code` is the CrmErrorCode an upload
 * refused for the same reason would carry, with what else is known (retryAfterSeconds, requiredScope, retryable).
 */
export function crmReadError(failure: CrmFailure): GraphQLError {
  const extensions: Record<string, unknown> = { code: failure.code, resolution: failure.resolution };
  if (failure.kind === 'rate-limited' && failure.retryAfterSeconds !== null) extensions.retryAfterSeconds = failure.retryAfterSeconds;
  if (failure.kind === 'permission-denied' && failure.requiredScope !== null) extensions.requiredScope = failure.requiredScope;
  if (failure.kind === 'crm-service') {
    extensions.retryable = failure.retryable;
    if (failure.httpStatus !== null) extensions.httpStatus = failure.httpStatus;
  }
  return new GraphQLError(failure.message, { extensions });
}

/** The record as the CRM shows it to this caller; null when the CRM does not return it. A refusal is thrown as a GraphQL error. */
export async function recordState(context: GraphContext, record: CrmRecordShape): Promise<RecordState> {
  try {
    return await context.records.load({ moduleApiName: record.moduleApiName, recordId: record.id });
  } catch (error) {
    if (error instanceof RecordReadRefusedError) throw crmReadError(error.failure);
    // No one is left to read it; an error the gateway meant, not a bug.
    if (error instanceof RecordReadCancelledError) throw new GraphQLError(error.message, { extensions: { code: 'CLIENT_CLOSED_REQUEST' } });
    throw error;
  }
}

/** The record if the CRM returns it, with its photo's version (so `photo` need not ask again); else null. */
export async function existingRecord(context: GraphContext, record: CrmRecordShape): Promise<CrmRecordShape | null> {
  const state = await recordState(context, record);
  return state.found ? { ...record, photoVersion: state.photoVersion } : null;
}

const photoOf = (record: CrmRecordShape, version: string | null): PhotoRef | null =>
  version === null ? null : { moduleApiName: record.moduleApiName, recordId: record.id, version };

const KEY_FIELDS = new Set(['__typename', 'module', 'id']);
const RECORD_TYPES = new Set(['CrmRecord', '_Entity']);

/**
 * Whether `_entities` was asked for a field of CrmRecord beyond its key. A router asks this subgraph for an entity
 * only for what it serves (the photo); a representation asked only for its key is echoed with no CRM call.
 */
export function asksBeyondKey(info: GraphQLResolveInfo): boolean {
  // The same for every representation of one `_entities` field: worked out once.
  let answer = beyondKey.get(info.fieldNodes);
  if (answer === undefined) beyondKey.set(info.fieldNodes, (answer = selectsBeyondKey(info)));
  return answer;
}

const beyondKey = new WeakMap<GraphQLResolveInfo['fieldNodes'], boolean>();

function selectsBeyondKey(info: GraphQLResolveInfo): boolean {
  const visit = (selectionSet: SelectionSetNode | undefined, seen: Set<string>): boolean =>
    (selectionSet?.selections ?? []).some((selection) => {
      switch (selection.kind) {
        case Kind.FIELD:
          return !KEY_FIELDS.has(selection.name.value);
        case Kind.INLINE_FRAGMENT:
          return (!selection.typeCondition || RECORD_TYPES.has(selection.typeCondition.name.value)) && visit(selection.selectionSet, seen);
        case Kind.FRAGMENT_SPREAD: {
          const fragment: FragmentDefinitionNode | undefined = info.fragments[selection.name.value];
          if (!fragment || seen.has(fragment.name.value) || !RECORD_TYPES.has(fragment.typeCondition.name.value)) return false;
          return visit(fragment.selectionSet, new Set([...seen, fragment.name.value]));
        }
      }
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet, new Set()));
}

/** `CrmRecord.photo`, `RecordPhoto` and `Query.crmRecord`: a record's photo, read from the CRM in batches. */
export function addRecordPhoto(builder: Builder, moduleEnum: CrmModuleEnum, crmRecord: ReturnType<typeof addCrmRecord>) {
  const RecordPhoto = builder.objectRef<PhotoRef>('RecordPhoto').implement({
    description: 'A photo attached to a CRM record.',
    fields: (t) => ({
      version: t.exposeID('version', {
        description: "The CRM's id for this photo (the record's Record_Image value). It changes whenever the photo does: a good cache key.",
      }),
      url: t.string({
        description: 'Where the gateway serves the image: GET /photos/{module}/{recordId}?v={version} (signed in service mode when PHOTO_URL_SECRET is set).',
        resolve: (photo, _args, context) => photoUrl(photo, context.photoUrls),
      }),
    }),
  });

  builder.objectField(crmRecord, 'photo', (t) =>
    t.field({
      type: RecordPhoto,
      nullable: true,
      description: "The record's photo; null when it has none. Loaded in batches: one CRM call per module for up to 100 records.",
      // Already read (crmRecord, _entities): no promise per record. Otherwise (an upload's record): read, batched.
      resolve: (record, _args, context) =>
        record.photoVersion !== undefined
          ? photoOf(record, record.photoVersion)
          : recordState(context, record).then((state) => (state.found ? photoOf(record, state.photoVersion) : null)),
    }),
  );

  builder.queryField('crmRecord', (t) =>
    t.field({
      type: crmRecord,
      nullable: true,
      description: 'One record by module and id; null when the CRM has no such record or the caller may not see it.',
      args: {
        module: t.arg({ type: moduleEnum, required: true }),
        id: t.arg.id({ required: true }),
      },
      resolve: (_root, args, context) => existingRecord(context, { moduleApiName: args.module, id: String(args.id) }),
    }),
  );
  return RecordPhoto;
}
