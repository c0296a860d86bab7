import { GraphQLError } from 'graphql';
import { FAILURE_TYPE_NAMES, type CrmFailure } from '../photos/failures.ts';
import { DeleteCancelledError, type PhotoDeleteOutcome } from '../photos/delete-record-photo.ts';
import type { Builder } from './builder.ts';
import type { CrmModuleEnum } from './crm-module.ts';
import type { CrmErrorMembers } from './crm-errors.ts';
import type { addCrmRecord, CrmRecordShape } from './crm-record.ts';

type Success = Extract<PhotoDeleteOutcome, { ok: true }>;

export const DELETE_SUCCESS_TYPE_NAME = 'DeleteRecordPhotoSuccess';

/** `deleteRecordPhoto`: the resolver hands off to the delete use case; a refusal is a member of the result union. */
export function addDeleteRecordPhoto(
  builder: Builder,
  moduleEnum: CrmModuleEnum,
  crmRecord: ReturnType<typeof addCrmRecord>,
  failures: CrmErrorMembers,
) {
  const DeleteRecordPhotoSuccess = builder.objectRef<Success>(DELETE_SUCCESS_TYPE_NAME).implement({
    isTypeOf: (value) => (value as Success).ok === true,
    fields: (t) => ({
      record: t.field({
        type: crmRecord,
        resolve: ({ record }): CrmRecordShape => ({ moduleApiName: record.moduleApiName, id: record.id }),
      }),
      message: t.exposeString('message', { description: "The CRM's own message." }),
    }),
  });

  // Every failure member but PhotoRejectedError: a delete sends no bytes to refuse.
  const DeleteRecordPhotoResult = builder.unionType('DeleteRecordPhotoResult', {
    types: [DeleteRecordPhotoSuccess, ...failures.filter((member) => member.name !== FAILURE_TYPE_NAMES['photo-rejected'])],
  });

  builder.mutationField('deleteRecordPhoto', (t) =>
    t.field({
      description: 'Remove the photo from a CRM record.',
      type: DeleteRecordPhotoResult,
      nullable: false,
      args: {
        module: t.arg({ type: moduleEnum, required: true }),
        recordId: t.arg.id({ required: true }),
      },
      resolve: async (_root, args, context): Promise<Success | CrmFailure> => {
        let outcome: PhotoDeleteOutcome;
        try {
          outcome = await context.photoDeletes.delete({
            moduleApiName: args.module,
            recordId: String(args.recordId),
            callerAuthorization: context.callerAuthorization,
            signal: context.signal,
            caller: context.caller(),
          });
        } catch (error) {
          // No one is left to tell; an error the gateway meant, not a bug.
          if (error instanceof DeleteCancelledError) throw new GraphQLError(error.message, { extensions: { code: 'CLIENT_CLOSED_REQUEST' } });
          throw error;
        }
        if (!outcome.ok) return outcome.failure;
        // The photo is gone: the record is read afresh if this operation asks for its photo.
        context.records.clear({ moduleApiName: outcome.record.moduleApiName, recordId: outcome.record.id });
        return outcome;
      },
    }),
  );
}
