import { GraphQLUpload } from 'graphql-upload-minimal';
import { uploadStreamRequestError } from '../http/request-errors.ts';
import type { CrmFailure } from '../photos/failures.ts';
import { UploadStreamError } from '../photos/stream-reader.ts';
import { SUCCESS_TYPE_NAME, type RecordPhotoOutcome } from '../photos/upload-record-photo.ts';
import type { Builder } from './builder.ts';
import type { CrmModuleEnum } from './crm-module.ts';
import type { CrmErrorMembers } from './crm-errors.ts';
import type { addCrmRecord, CrmRecordShape } from './crm-record.ts';
import { addUploadedPhoto } from './uploaded-photo.ts';

type Success = Extract<RecordPhotoOutcome, { ok: true }>;

export function addUploadRecordPhoto(
  builder: Builder,
  moduleEnum: CrmModuleEnum,
  crmRecord: ReturnType<typeof addCrmRecord>,
  failures: CrmErrorMembers,
) {
  builder.addScalarType('Upload', GraphQLUpload, {});
  const UploadedPhoto = addUploadedPhoto(builder);

  const UploadRecordPhotoSuccess = builder.objectRef<Success>(SUCCESS_TYPE_NAME).implement({
    isTypeOf: (value) => (value as Success).ok === true,
    fields: (t) => ({
      record: t.field({
        type: crmRecord,
        resolve: ({ record }): CrmRecordShape => ({ moduleApiName: record.moduleApiName, id: record.id }),
      }),
      photo: t.expose('photo', { type: UploadedPhoto }),
      message: t.exposeString('message', { description: "The CRM's own message, e.g. 'photo uploaded successfully'." }),
    }),
  });

  const UploadRecordPhotoResult = builder.unionType('UploadRecordPhotoResult', {
    types: [UploadRecordPhotoSuccess, ...failures],
  });

  builder.mutationType({});
  builder.mutationField('uploadRecordPhoto', (t) =>
    t.field({
      description: 'Attach a photo to a CRM record, replacing the one it had.',
      type: UploadRecordPhotoResult,
      nullable: false,
      args: {
        module: t.arg({ type: moduleEnum, required: true }),
        recordId: t.arg.id({ required: true }),
        file: t.arg({ type: 'Upload', required: true }),
        restrictWorkflow: t.arg.boolean({
          description: 'true: the CRM runs no workflow rules for this change (restrict_triggers=workflow).',
        }),
        fitToLimits: t.arg.boolean({
          description:
            "true: a photo over the CRM's pixel limit (10,000,000) is scaled down to fit instead of refused, and written again within its byte limit (10 MiB; a JPEG at a lower quality if need be), else refused. The photo as sent must be within 10 MiB either way. Default: PHOTO_FIT_TO_LIMITS.",
        }),
      },
      resolve: async (_root, args, context): Promise<Success | CrmFailure> => {
        try {
          const outcome = await context.photos.upload({
            moduleApiName: args.module,
            recordId: String(args.recordId),
            restrictWorkflow: args.restrictWorkflow === true,
            fitToLimits: args.fitToLimits ?? undefined,
            callerAuthorization: context.callerAuthorization,
            signal: context.signal,
            caller: context.caller(),
            requestId: context.requestId,
            file: async () => {
              try {
                const upload = await args.file;
                return { filename: upload.filename ?? null, stream: upload.createReadStream() };
              } catch (error) {
                // The multipart parser never delivered the file (a malformed body, a limit, a client that left).
                throw new UploadStreamError('broken', error instanceof Error && error.message ? error.message : 'The file could not be read.', {
                  cause: error,
                });
              }
            },
          });
          if (!outcome.ok) return outcome.failure;
          // A new photo, a new Record_Image: the record is read afresh if this operation asks for its photo.
          context.records.clear({ moduleApiName: outcome.record.moduleApiName, recordId: outcome.record.id });
          return outcome;
        } catch (error) {
          // The client's upload broke off or stalled: a request error, not a CRM outcome. Anything else is a bug.
          if (error instanceof UploadStreamError) throw uploadStreamRequestError(error);
          throw error;
        }
      },
    }),
  );
}
