/**
 * Every way a record-photo upload can fail, in the CRM's own terms.
 * The GraphQL layer turns each `kind` into one member of the result union.
 */
export type CrmErrorCode =
  | 'INVALID_MODULE'
  | 'INVALID_URL_PATTERN'
  | 'OAUTH_SCOPE_MISMATCH'
  | 'NO_PERMISSION'
  | 'INTERNAL_ERROR'
  | 'INVALID_REQUEST_METHOD'
  | 'AUTHORIZATION_FAILED'
  | 'INVALID_DATA'
  | 'RECORD_LOCKED'
  | 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE'
  | 'INVALID_TOKEN'
  | 'AUTHENTICATION_FAILURE'
  | 'TOO_MANY_REQUESTS'
  | 'MISSING_CREDENTIALS'
  | 'INVALID_RECORD_ID'
  | 'UNSUPPORTED_IMAGE_FORMAT'
  | 'EMPTY_FILE'
  | 'CRM_TIMEOUT'
  | 'CRM_UNREACHABLE'
  | 'UNEXPECTED_RESPONSE';

export const CRM_ERROR_CODES: readonly CrmErrorCode[] = [
  'INVALID_MODULE',
  'INVALID_URL_PATTERN',
  'OAUTH_SCOPE_MISMATCH',
  'NO_PERMISSION',
  'INTERNAL_ERROR',
  'INVALID_REQUEST_METHOD',
  'AUTHORIZATION_FAILED',
  'INVALID_DATA',
  'RECORD_LOCKED',
  'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
  'INVALID_TOKEN',
  'AUTHENTICATION_FAILURE',
  'TOO_MANY_REQUESTS',
  'MISSING_CREDENTIALS',
  'INVALID_RECORD_ID',
  'UNSUPPORTED_IMAGE_FORMAT',
  'EMPTY_FILE',
  'CRM_TIMEOUT',
  'CRM_UNREACHABLE',
  'UNEXPECTED_RESPONSE',
];

export type PhotoRejectionReason = 'TOO_MANY_BYTES' | 'TOO_MANY_PIXELS' | 'CRM_LIMIT' | 'UNSUPPORTED_FORMAT' | 'EMPTY';

interface FailureBase {
  code: CrmErrorCode;
  message: string;
  /** What the caller can do about it. */
  resolution: string | null;
}

export type CrmFailure =
  | (FailureBase & { kind: 'invalid-module'; module: string })
  | (FailureBase & { kind: 'invalid-record'; recordId: string })
  | (FailureBase & { kind: 'record-locked'; recordId: string })
  | (FailureBase & { kind: 'photo-rejected'; reason: PhotoRejectionReason; maxBytes: number; maxPixels: number })
  | (FailureBase & { kind: 'authentication' })
  | (FailureBase & { kind: 'permission-denied'; requiredScope: string | null })
  | (FailureBase & { kind: 'rate-limited'; retryAfterSeconds: number | null })
  | (FailureBase & { kind: 'crm-service'; retryable: boolean; crmCode: string | null; httpStatus: number | null });

export type CrmFailureKind = CrmFailure['kind'];
