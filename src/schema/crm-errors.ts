import { CRM_ERROR_CODES, FAILURE_TYPE_NAMES, type CrmFailure, type CrmFailureKind } from '../photos/failures.ts';
import type { Builder } from './builder.ts';

type Failure<K extends CrmFailureKind> = Extract<CrmFailure, { kind: K }>;

/** The failure members of the result unions, each implementing CrmError. */
export type CrmErrorMembers = ReturnType<typeof addCrmErrors>;

export function addCrmErrors(builder: Builder) {
  const CrmErrorCode = builder.enumType('CrmErrorCode', { values: CRM_ERROR_CODES });
  const PhotoRejectionReason = builder.enumType('PhotoRejectionReason', {
    values: {
      TOO_MANY_BYTES: { description: 'Code FILE_SIZE_MORE_THAN_ALLOWED_SIZE, found by the gateway.' },
      TOO_MANY_PIXELS: { description: 'Code FILE_SIZE_MORE_THAN_ALLOWED_SIZE, found by the gateway.' },
      CRM_LIMIT: { description: "Code FILE_SIZE_MORE_THAN_ALLOWED_SIZE, the CRM's own verdict." },
      UNSUPPORTED_FORMAT: { description: 'Code UNSUPPORTED_IMAGE_FORMAT: the bytes are not PNG, JPEG, GIF or BMP.' },
      EMPTY: { description: 'Code EMPTY_FILE.' },
    } as const,
  });

  const CrmError = builder.interfaceRef<CrmFailure>('CrmError').implement({
    description: 'Every failure member of the result implements this, so clients can select `... on CrmError`.',
    fields: (t) => ({
      code: t.expose('code', { type: CrmErrorCode }),
      message: t.exposeString('message'),
      resolution: t.exposeString('resolution', {
        nullable: true,
        description: "What the caller can do about it (from the CRM's documented resolutions).",
      }),
    }),
  });

  const member = <K extends CrmFailureKind>(kind: K, description: string) =>
    builder.objectRef<Failure<K>>(FAILURE_TYPE_NAMES[kind]).implement({
      description,
      interfaces: [CrmError],
      isTypeOf: (value) => (value as CrmFailure).kind === kind,
    });

  const InvalidModuleError = member('invalid-module', 'INVALID_MODULE');
  builder.objectField(InvalidModuleError, 'module', (t) => t.exposeString('module'));

  const InvalidRecordError = member(
    'invalid-record',
    'INVALID_DATA, INVALID_URL_PATTERN (from the CRM); INVALID_RECORD_ID (an id that is not 1-19 digits: no CRM call)',
  );
  builder.objectField(InvalidRecordError, 'recordId', (t) => t.exposeID('recordId'));

  const RecordLockedError = member('record-locked', 'RECORD_LOCKED');
  builder.objectField(RecordLockedError, 'recordId', (t) => t.exposeID('recordId'));

  const PhotoRejectedError = member('photo-rejected', 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE, UNSUPPORTED_IMAGE_FORMAT, EMPTY_FILE');
  builder.objectFields(PhotoRejectedError, (t) => ({
    reason: t.expose('reason', { type: PhotoRejectionReason }),
    maxBytes: t.exposeInt('maxBytes'),
    maxPixels: t.exposeInt('maxPixels'),
  }));

  const AuthenticationError = member('authentication', 'INVALID_TOKEN, AUTHENTICATION_FAILURE, MISSING_CREDENTIALS');

  const PermissionDeniedError = member('permission-denied', 'OAUTH_SCOPE_MISMATCH, NO_PERMISSION, AUTHORIZATION_FAILED');
  builder.objectField(PermissionDeniedError, 'requiredScope', (t) =>
    t.exposeString('requiredScope', {
      nullable: true,
      description: 'For OAUTH_SCOPE_MISMATCH: the scope the token lacks, e.g. ZohoCRM.modules.leads.CREATE.',
    }),
  );

  const RateLimitedError = member('rate-limited', "TOO_MANY_REQUESTS (from the CRM, or the gateway's own queue for the CRM is full)");
  builder.objectField(RateLimitedError, 'retryAfterSeconds', (t) => t.exposeInt('retryAfterSeconds', { nullable: true }));

  const CrmServiceError = member(
    'crm-service',
    'INTERNAL_ERROR, INVALID_REQUEST_METHOD, CRM_TIMEOUT, CRM_UNREACHABLE, UNEXPECTED_RESPONSE (any code or body not listed above)',
  );
  builder.objectFields(CrmServiceError, (t) => ({
    retryable: t.exposeBoolean('retryable', {
      description: 'true where trying again later can succeed (INTERNAL_ERROR, CRM_TIMEOUT, CRM_UNREACHABLE, a 5xx).',
    }),
    crmCode: t.exposeString('crmCode', { nullable: true, description: "The CRM's code, verbatim, where it sent one." }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true, description: "The CRM's HTTP status, where it answered." }),
  }));

  return [
    InvalidModuleError,
    InvalidRecordError,
    RecordLockedError,
    PhotoRejectedError,
    AuthenticationError,
    PermissionDeniedError,
    RateLimitedError,
    CrmServiceError,
  ] as const;
}
