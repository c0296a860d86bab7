/**
 * Every way a record-photo upload can fail — refused by the CRM or by the gateway itself — is built here,
 * in the CRM's own terms. The GraphQL layer turns each `kind` into one member of the result union.
 */
import type { ReadCrmAnswer } from '../crm/answers.ts';
import { STANDARD_MODULES } from '../crm/modules.ts';
import type { TransportFailure, UnusableAnswer } from '../crm/photo-client.ts';
import { IMAGE_FORMAT_LIST } from './image-sniffer.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS } from './limits.ts';

/** What the call to the CRM's photo endpoint does: it decides the scope it needs and the words of its resolutions. */
export type PhotoOperation = 'upload' | 'read' | 'delete';

/** The scope operations that cover each photo operation, besides ALL. */
const SCOPE_OPERATIONS: Record<PhotoOperation, string> = { upload: 'WRITE or CREATE', read: 'READ', delete: 'DELETE' };
/** What the user was refused, for the permission resolutions. */
const PERMISSION_TO: Record<PhotoOperation, string> = { upload: 'upload a photo', read: 'view this photo', delete: 'delete this photo' };

interface ResolutionContext {
  moduleApiName: string;
  /** Default: upload. */
  operation?: PhotoOperation;
  /** Service mode could not obtain a token: the fix is the gateway's configuration, not the caller's header. */
  serviceTokenUnavailable?: boolean;
}

type Resolution = string | ((context: ResolutionContext) => string);

const MEBIBYTE = 1024 * 1024;

/**
 * What a caller can do about each code: the CRM's documented resolutions, and the gateway's own.
 * The keys are the `CrmErrorCode` enum, in its order; the limits come from their constants.
 */
const RESOLUTIONS = {
  INVALID_MODULE: `Specify a valid module API name: ${STANDARD_MODULES.map((m) => m.apiName).join(', ')} or a custom module. Modules such as Documents and Projects are not supported in the API.`,
  INVALID_URL_PATTERN: 'The request URL is incorrect: check the module and record ID.',
  OAUTH_SCOPE_MISMATCH: ({ moduleApiName, operation = 'upload' }) =>
    `The client does not have the ${requiredScopeFor(moduleApiName, operation)} scope. Create a new client with a valid scope (ZohoCRM.modules.ALL, or ZohoCRM.modules.{module}.ALL or ${SCOPE_OPERATIONS[operation]}).`,
  NO_PERMISSION: ({ operation = 'upload' }) => `The user does not have the permission to ${PERMISSION_TO[operation]}. Contact your system administrator.`,
  INTERNAL_ERROR: 'Unexpected and unhandled exception in the CRM. Try again later; if it persists, contact the CRM support team.',
  INVALID_REQUEST_METHOD: 'The CRM refused the HTTP method used for this URL. Contact the gateway maintainers.',
  AUTHORIZATION_FAILED: ({ operation = 'upload' }) =>
    `The user does not have the permission to ${PERMISSION_TO[operation]}. Contact your system administrator.`,
  INVALID_DATA: 'The record ID is invalid: use the ID of an existing record of this module.',
  RECORD_LOCKED: 'Please wait until the record is unlocked, then try again.',
  FILE_SIZE_MORE_THAN_ALLOWED_SIZE: `The photo exceeds the allowed size (${MAX_PHOTO_BYTES / MEBIBYTE} MB) or the allowed resolution (${MAX_PHOTO_PIXELS / 1_000_000} MP). Upload a photo within both limits.`,
  INVALID_TOKEN: 'The access token is invalid or has expired. Obtain a new access token and try again.',
  AUTHENTICATION_FAILURE: ({ serviceTokenUnavailable }) =>
    serviceTokenUnavailable
      ? "Check the gateway's CRM client credentials (ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN), or try again later."
      : 'Authentication failed. Send a valid access token in the Authorization header.',
  TOO_MANY_REQUESTS: 'Too many requests to the CRM. Wait retryAfterSeconds (when given) before trying again.',
  MISSING_CREDENTIALS: 'Send the header "Authorization: Zoho-oauthtoken <access token>" (or "Bearer <access token>").',
  INVALID_RECORD_ID: 'A record ID is 1 to 19 decimal digits, e.g. 3000000038009.',
  UNSUPPORTED_IMAGE_FORMAT: `Upload a ${IMAGE_FORMAT_LIST} image.`,
  EMPTY_FILE: 'The file is empty. Choose an image file and upload it again.',
  CRM_TIMEOUT: 'The CRM did not answer in time. Try again later.',
  CRM_UNREACHABLE: 'The gateway could not reach the CRM. Try again later.',
  UNEXPECTED_RESPONSE: 'The CRM gave an answer the gateway does not understand. Try again later; if it persists, contact the gateway maintainers.',
} as const satisfies Record<string, Resolution>;

export type CrmErrorCode = keyof typeof RESOLUTIONS;
export const CRM_ERROR_CODES = Object.keys(RESOLUTIONS) as readonly CrmErrorCode[];

export function resolutionFor(code: CrmErrorCode, context: ResolutionContext): string {
  const resolution: Resolution = RESOLUTIONS[code];
  return typeof resolution === 'string' ? resolution : resolution(context);
}

const REQUIRED_SCOPE_OPERATION: Record<PhotoOperation, string> = { upload: 'CREATE', read: 'READ', delete: 'DELETE' };

/** The scope the CRM wants for an operation on a module's photos (default: uploading one). */
export function requiredScopeFor(moduleApiName: string, operation: PhotoOperation = 'upload'): string {
  return `ZohoCRM.modules.${moduleApiName.toLowerCase()}.${REQUIRED_SCOPE_OPERATION[operation]}`;
}

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

/** The member of the result union that stands for each kind of failure: the contract's names, for logs and metrics too. */
export const FAILURE_TYPE_NAMES: Record<CrmFailureKind, string> = {
  'invalid-module': 'InvalidModuleError',
  'invalid-record': 'InvalidRecordError',
  'record-locked': 'RecordLockedError',
  'photo-rejected': 'PhotoRejectedError',
  authentication: 'AuthenticationError',
  'permission-denied': 'PermissionDeniedError',
  'rate-limited': 'RateLimitedError',
  'crm-service': 'CrmServiceError',
};

export interface PhotoTarget {
  moduleApiName: string;
  recordId: string;
}

const base = (code: CrmErrorCode, message: string, context: ResolutionContext) => ({
  code,
  message,
  resolution: resolutionFor(code, context),
});

// ---- Refused by the gateway, before or instead of a CRM call ----

export function invalidRecordId({ moduleApiName, recordId }: PhotoTarget): CrmFailure {
  return {
    kind: 'invalid-record',
    ...base('INVALID_RECORD_ID', `'${recordId.slice(0, 40)}' is not a record ID: a record ID is 1 to 19 decimal digits.`, { moduleApiName }),
    recordId,
  };
}

/** A module name the gateway does not serve (a download URL names modules by their API names). */
export function unknownModule(name: string): CrmFailure {
  return {
    kind: 'invalid-module',
    ...base('INVALID_MODULE', `'${name.slice(0, 40)}' is not the API name of a module this gateway serves photos for.`, { moduleApiName: name }),
    module: name,
  };
}

export function missingCredentials(moduleApiName: string): CrmFailure {
  return { kind: 'authentication', ...base('MISSING_CREDENTIALS', 'No CRM access token came with the request.', { moduleApiName }) };
}

/** Service mode: the accounts server would not mint a token. `detail` holds no secret. */
export function serviceTokenUnavailable(moduleApiName: string, detail: string): CrmFailure {
  return {
    kind: 'authentication',
    ...base('AUTHENTICATION_FAILURE', `The gateway could not obtain a CRM access token: ${detail}.`, {
      moduleApiName,
      serviceTokenUnavailable: true,
    }),
  };
}

/** What the gateway found in the bytes themselves. */
export type PhotoDefect =
  | { reason: 'EMPTY' }
  | { reason: 'UNSUPPORTED_FORMAT'; detail: string }
  | { reason: 'TOO_MANY_PIXELS'; width: number; height: number; scaleLimit?: { pixels: number; why: string } }
  | { reason: 'TOO_MANY_BYTES' };

const DEFECTS: { [R in PhotoDefect['reason']]: { code: CrmErrorCode; message: (defect: Extract<PhotoDefect, { reason: R }>) => string } } = {
  EMPTY: { code: 'EMPTY_FILE', message: () => 'The file is empty.' },
  UNSUPPORTED_FORMAT: {
    code: 'UNSUPPORTED_IMAGE_FORMAT',
    message: ({ detail }) => `The file is not a ${IMAGE_FORMAT_LIST} image: ${detail}.`,
  },
  TOO_MANY_PIXELS: {
    code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
    message: ({ width, height, scaleLimit }) =>
      `The image is ${width}×${height} pixels, more than the ${MAX_PHOTO_PIXELS} the CRM allows` +
      (scaleLimit ? `, and too large to scale down: the gateway scales down at most ${scaleLimit.pixels} pixels for ${scaleLimit.why}.` : '.'),
  },
  TOO_MANY_BYTES: { code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', message: () => `The file is larger than ${MAX_PHOTO_BYTES} bytes.` },
};

export function photoRejected(defect: PhotoDefect, moduleApiName: string): CrmFailure {
  const { code, message } = DEFECTS[defect.reason] as { code: CrmErrorCode; message: (d: PhotoDefect) => string };
  return {
    kind: 'photo-rejected',
    ...base(code, message(defect), { moduleApiName }),
    reason: defect.reason,
    maxBytes: MAX_PHOTO_BYTES,
    maxPixels: MAX_PHOTO_PIXELS,
  };
}

/**
 * The record has no photo to serve (the CRM answered 204). Not a failure of the result unions (there a missing photo
 * is `photo: null`), so its code is the download route's own, not a CrmErrorCode.
 */
export interface PhotoAbsence {
  code: 'NO_PHOTO';
  message: string;
  resolution: string;
}

export function noPhoto({ moduleApiName, recordId }: PhotoTarget): PhotoAbsence {
  return {
    code: 'NO_PHOTO',
    message: `Record ${recordId} of ${moduleApiName} has no photo.`,
    resolution: 'Attach one with uploadRecordPhoto; RecordPhoto.url is only given for a record that has one.',
  };
}

/** The CRM answered with something the operation cannot take: not the photo, or a code that does not apply to it. */
export function unexpectedCrmAnswer(status: number, what: string, moduleApiName: string): CrmFailure {
  return crmService(
    'UNEXPECTED_RESPONSE',
    `The CRM answered HTTP ${status} with ${what}.`,
    { retryable: status >= 500, crmCode: null, httpStatus: status },
    moduleApiName,
  );
}

/** The gateway's own queue for CRM slots (shared by uploads and reads) is full, or the wait ran out. */
export function gatewayBusy(moduleApiName: string, detail: string, retryAfterSeconds: number): CrmFailure {
  return {
    kind: 'rate-limited',
    ...base('TOO_MANY_REQUESTS', `The gateway is at its limit of concurrent calls to the CRM: ${detail}.`, { moduleApiName }),
    retryAfterSeconds,
  };
}

/** The lane of photos being scaled down to fit (PHOTO_RESIZE_CONCURRENCY, PHOTO_RESIZE_MAX_QUEUE) is full, or the wait ran out. */
export function resizeBusy(moduleApiName: string, retryAfterSeconds: number): CrmFailure {
  return {
    kind: 'rate-limited',
    ...base('TOO_MANY_REQUESTS', 'The gateway is scaling down as many photos as it can at once; this one could not wait its turn.', { moduleApiName }),
    retryAfterSeconds,
  };
}

/**
 * The CRM answered 429 with Retry-After to one of the replicas sharing its budget (REDIS_URL): none sends it more work
 * until then, and this call was held back with what is left of the pause.
 */
export function crmPaused(moduleApiName: string, retryAfterSeconds: number): CrmFailure {
  return {
    kind: 'rate-limited',
    ...base('TOO_MANY_REQUESTS', `The CRM asked for a pause (HTTP 429 with Retry-After): no call is sent to it for ${retryAfterSeconds} s more.`, { moduleApiName }),
    retryAfterSeconds,
  };
}

/** No CRM slot for the call: the gateway's queue refused it, or the CRM's own pause (429) holds every replica back. */
export function slotRefused(moduleApiName: string, refusal: { detail: string; retryAfterSeconds: number; crmPaused?: true }): CrmFailure {
  return refusal.crmPaused ? crmPaused(moduleApiName, refusal.retryAfterSeconds) : gatewayBusy(moduleApiName, refusal.detail, refusal.retryAfterSeconds);
}

const TRANSPORT: Record<TransportFailure, { code: CrmErrorCode; message: string }> = {
  timeout: { code: 'CRM_TIMEOUT', message: 'The CRM did not answer in time.' },
  unreachable: { code: 'CRM_UNREACHABLE', message: 'The gateway could not connect to the CRM.' },
  'connection-lost': { code: 'CRM_UNREACHABLE', message: 'The connection to the CRM was lost before it answered.' },
};

/** No answer came: a timeout, a refused connection, a connection lost. Always worth trying again. */
export function crmTransportFailed(failure: TransportFailure, moduleApiName: string): CrmFailure {
  const { code, message } = TRANSPORT[failure];
  return crmService(code, message, { retryable: true, crmCode: null, httpStatus: null }, moduleApiName);
}

/**
 * An answer the gateway will not use, whatever it said: too large to read, or a success that came before the whole
 * file had gone out. Sending the photo again is safe (it replaces the record's photo), so it is retryable.
 */
export function crmAnswerUnusable(unusable: UnusableAnswer, moduleApiName: string): CrmFailure {
  const message =
    unusable.problem === 'too-large'
      ? `The CRM answered HTTP ${unusable.status} with more than ${unusable.limitBytes} bytes; the gateway stopped reading it.`
      : `The CRM answered HTTP ${unusable.status} before it had received the whole file, and the connection was lost with the rest: the photo was not stored whole.`;
  return crmService('UNEXPECTED_RESPONSE', message, { retryable: true, crmCode: null, httpStatus: unusable.status }, moduleApiName);
}

// ---- Refused by the CRM ----

export type CrmVerdict = { ok: true; message: string } | { ok: false; failure: CrmFailure };

function crmService(
  code: CrmErrorCode,
  message: string,
  details: { retryable: boolean; crmCode: string | null; httpStatus: number | null },
  moduleApiName: string,
): CrmFailure {
  return { kind: 'crm-service', ...base(code, message, { moduleApiName }), ...details };
}

function rateLimited(message: string | null, retryAfterSeconds: number | null, moduleApiName: string): CrmFailure {
  return {
    kind: 'rate-limited',
    ...base('TOO_MANY_REQUESTS', message ?? 'The CRM is receiving too many requests.', { moduleApiName }),
    retryAfterSeconds,
  };
}

/** Maps one CRM answer to success or to the failure its code stands for; `operation` (default upload) words the resolutions. */
export function verdictOfCrmAnswer(answer: ReadCrmAnswer, target: PhotoTarget, operation: PhotoOperation = 'upload'): CrmVerdict {
  const { moduleApiName, recordId } = target;
  const context = { moduleApiName, operation };
  const retryableStatus = answer.status >= 500;
  // 429 means "slow down" whatever code, if any, comes with it.
  if (answer.status === 429) {
    return { ok: false, failure: rateLimited(answer.shape === 'crm' ? (answer.message ?? `The CRM answered ${answer.code}.`) : null, answer.retryAfterSeconds, moduleApiName) };
  }
  if (answer.shape === 'other') {
    return {
      ok: false,
      failure: crmService(
        'UNEXPECTED_RESPONSE',
        `The CRM answered HTTP ${answer.status} with ${answer.description}.`,
        { retryable: retryableStatus, crmCode: null, httpStatus: answer.status },
        moduleApiName,
      ),
    };
  }

  const { code } = answer;
  const message = answer.message ?? `The CRM answered ${code}.`;
  if (code === 'SUCCESS' && answer.status >= 200 && answer.status < 300) return { ok: true, message };

  switch (code) {
    case 'INVALID_MODULE':
      return { ok: false, failure: { kind: 'invalid-module', ...base(code, message, context), module: moduleApiName } };
    case 'INVALID_DATA':
    case 'INVALID_URL_PATTERN':
      return { ok: false, failure: { kind: 'invalid-record', ...base(code, message, context), recordId } };
    case 'RECORD_LOCKED':
      return { ok: false, failure: { kind: 'record-locked', ...base(code, message, context), recordId } };
    case 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE':
      return {
        ok: false,
        failure: { kind: 'photo-rejected', ...base(code, message, context), reason: 'CRM_LIMIT', maxBytes: MAX_PHOTO_BYTES, maxPixels: MAX_PHOTO_PIXELS },
      };
    case 'INVALID_TOKEN':
    case 'AUTHENTICATION_FAILURE':
      return { ok: false, failure: { kind: 'authentication', ...base(code, message, context) } };
    case 'OAUTH_SCOPE_MISMATCH':
      return {
        ok: false,
        failure: { kind: 'permission-denied', ...base(code, message, context), requiredScope: requiredScopeFor(moduleApiName, operation) },
      };
    case 'NO_PERMISSION':
    case 'AUTHORIZATION_FAILED':
      return { ok: false, failure: { kind: 'permission-denied', ...base(code, message, context), requiredScope: null } };
    case 'TOO_MANY_REQUESTS':
      return { ok: false, failure: rateLimited(message, answer.retryAfterSeconds, moduleApiName) };
    case 'INTERNAL_ERROR':
    case 'INVALID_REQUEST_METHOD':
      return {
        ok: false,
        failure: crmService(
          code,
          message,
          { retryable: code === 'INTERNAL_ERROR' || retryableStatus, crmCode: code, httpStatus: answer.status },
          moduleApiName,
        ),
      };
    default:
      return {
        ok: false,
        failure: crmService(
          'UNEXPECTED_RESPONSE',
          `The CRM answered HTTP ${answer.status} with code ${code}: ${message}`,
          { retryable: retryableStatus, crmCode: code, httpStatus: answer.status },
          moduleApiName,
        ),
      };
  }
}

// ---- Reading records (Get Records): the same answers, judged by verdictOfCrmAnswer, worded for a read ----

/** A refused Get Records call, worded for reading: the scope or permission the caller lacks is to read. */
export function readRefused(failure: CrmFailure, moduleApiName: string): CrmFailure {
  const resolution = resolutionFor(failure.code, { moduleApiName, operation: 'read' });
  return failure.kind === 'permission-denied' && failure.requiredScope !== null
    ? { ...failure, resolution, requiredScope: requiredScopeFor(moduleApiName, 'read') }
    : { ...failure, resolution };
}

/** The CRM answered a Get Records call with success but without the records (e.g. a bare SUCCESS code). */
export function recordsMissingFromAnswer(status: number, moduleApiName: string): CrmFailure {
  return crmService(
    'UNEXPECTED_RESPONSE',
    `The CRM answered HTTP ${status} without the records asked for.`,
    { retryable: status >= 500, crmCode: null, httpStatus: status },
    moduleApiName,
  );
}
