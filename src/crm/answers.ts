import type { CrmErrorCode, CrmFailure } from './failures.ts';
import { MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS } from '../photos/limits.ts';
import { requiredScopeFor, resolutionFor } from './resolutions.ts';

/** What the CRM sent back for a photo upload, as read off the wire. */
export interface CrmAnswer {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  body: string;
}

export interface PhotoTarget {
  moduleApiName: string;
  recordId: string;
}

export type InterpretedAnswer = { ok: true; message: string } | { ok: false; failure: CrmFailure };

interface CrmBody {
  code: string;
  message: string | null;
}

/** The CRM answers `{code, details, message, status}`, or the same inside `data[0]` on some endpoints. */
function parseCrmBody(body: string): CrmBody | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const candidate = (json as { data?: unknown })?.data;
  const entry = Array.isArray(candidate) ? candidate[0] : json;
  if (typeof entry !== 'object' || entry === null) return null;
  const { code, message } = entry as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || code === '') return null;
  return { code, message: typeof message === 'string' && message !== '' ? message : null };
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), 2_147_483_647);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function describeBody(answer: CrmAnswer): string {
  if (answer.body.trim() === '') return 'an empty body';
  const type = answer.contentType?.split(';')[0]?.trim() || 'no content type';
  return `a body that is not a CRM answer (${type})`;
}

export function crmServiceFailure(
  code: CrmErrorCode,
  message: string,
  details: { retryable: boolean; crmCode: string | null; httpStatus: number | null },
  moduleApiName: string,
): CrmFailure {
  return { kind: 'crm-service', code, message, resolution: resolutionFor(code, moduleApiName), ...details };
}

/** Maps one CRM answer to success or to the failure its code stands for. */
export function interpretPhotoAnswer(answer: CrmAnswer, target: PhotoTarget): InterpretedAnswer {
  const parsed = parseCrmBody(answer.body);
  const { moduleApiName, recordId } = target;
  const retryableStatus = answer.status >= 500;

  if (parsed === null) {
    if (answer.status === 429) return { ok: false, failure: rateLimited(answer, null, moduleApiName) };
    return {
      ok: false,
      failure: crmServiceFailure(
        'UNEXPECTED_RESPONSE',
        `The CRM answered HTTP ${answer.status} with ${describeBody(answer)}.`,
        { retryable: retryableStatus, crmCode: null, httpStatus: answer.status },
        moduleApiName,
      ),
    };
  }

  const { code } = parsed;
  const message = parsed.message ?? `The CRM answered ${code}.`;
  // 429 means "slow down" whatever code comes with it.
  if (answer.status === 429) return { ok: false, failure: rateLimited(answer, message, moduleApiName) };
  if (code === 'SUCCESS' && answer.status >= 200 && answer.status < 300) return { ok: true, message };

  const base = (known: CrmErrorCode) => ({ code: known, message, resolution: resolutionFor(known, moduleApiName) });
  switch (code) {
    case 'INVALID_MODULE':
      return { ok: false, failure: { kind: 'invalid-module', ...base(code), module: moduleApiName } };
    case 'INVALID_DATA':
    case 'INVALID_URL_PATTERN':
      return { ok: false, failure: { kind: 'invalid-record', ...base(code), recordId } };
    case 'RECORD_LOCKED':
      return { ok: false, failure: { kind: 'record-locked', ...base(code), recordId } };
    case 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE':
      return {
        ok: false,
        failure: {
          kind: 'photo-rejected',
          ...base(code),
          reason: 'CRM_LIMIT',
          maxBytes: MAX_PHOTO_BYTES,
          maxPixels: MAX_PHOTO_PIXELS,
        },
      };
    case 'INVALID_TOKEN':
    case 'AUTHENTICATION_FAILURE':
      return { ok: false, failure: { kind: 'authentication', ...base(code) } };
    case 'OAUTH_SCOPE_MISMATCH':
      return {
        ok: false,
        failure: { kind: 'permission-denied', ...base(code), requiredScope: requiredScopeFor(moduleApiName) },
      };
    case 'NO_PERMISSION':
    case 'AUTHORIZATION_FAILED':
      return { ok: false, failure: { kind: 'permission-denied', ...base(code), requiredScope: null } };
    case 'TOO_MANY_REQUESTS':
      return { ok: false, failure: rateLimited(answer, message, moduleApiName) };
    case 'INTERNAL_ERROR':
    case 'INVALID_REQUEST_METHOD':
      return {
        ok: false,
        failure: crmServiceFailure(
          code,
          message,
          { retryable: code === 'INTERNAL_ERROR' || retryableStatus, crmCode: code, httpStatus: answer.status },
          moduleApiName,
        ),
      };
    default:
      return {
        ok: false,
        failure: crmServiceFailure(
          'UNEXPECTED_RESPONSE',
          `The CRM answered HTTP ${answer.status} with code ${code}: ${message}`,
          { retryable: retryableStatus, crmCode: code, httpStatus: answer.status },
          moduleApiName,
        ),
      };
  }
}

function rateLimited(answer: CrmAnswer, message: string | null, moduleApiName: string): CrmFailure {
  return {
    kind: 'rate-limited',
    code: 'TOO_MANY_REQUESTS',
    message: message ?? 'The CRM is receiving too many requests.',
    resolution: resolutionFor('TOO_MANY_REQUESTS', moduleApiName),
    retryAfterSeconds: retryAfterSeconds(answer.retryAfter),
  };
}
