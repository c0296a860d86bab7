/** What the CRM sent back, as read off the wire. */
export interface CrmAnswer {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  body: string;
}

/** A CRM answer in the CRM's own JSON shape (`{code, details, message, status}`), or the fact that it was not. */
export type ReadCrmAnswer =
  | { shape: 'crm'; status: number; code: string; message: string | null; retryAfterSeconds: number | null }
  | { shape: 'other'; status: number; description: string; retryAfterSeconds: number | null };

/** The CRM answers `{code, details, message, status}`, or the same inside `data[0]` on some endpoints. */
function parseCrmBody(body: string): { code: string; message: string | null } | null {
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

export const REDACTED = '[redacted]';

/** Tokens shorter than this are masked only as part of the whole header: masking a few letters would garble the text. */
const MIN_MASKED_TOKEN_LENGTH = 8;

/**
 * Masks, in text that came from the CRM, the Authorization header the gateway sent and the token in it: a CRM
 * that echoes the header must not hand the organisation's token (service mode) to an API-key caller, nor put any
 * token in a message that is relayed or logged.
 */
export function redactCredential(text: string, authorization: string): string {
  let masked = authorization.length > 0 ? text.split(authorization).join(REDACTED) : text;
  const token = /^\S+[ \t]+(\S+)/.exec(authorization)?.[1];
  if (token !== undefined && token.length >= MIN_MASKED_TOKEN_LENGTH) masked = masked.split(token).join(REDACTED);
  return masked;
}

/**
 * Reads one CRM answer; what its code means for the caller is decided by the use case. With `sentAuthorization`,
 * the credential the gateway sent is masked out of everything read from the answer (code, message, content type).
 */
export function readCrmAnswer(answer: CrmAnswer, options: { sentAuthorization?: string } = {}): ReadCrmAnswer {
  const { sentAuthorization } = options;
  const mask = sentAuthorization === undefined ? (text: string) => text : (text: string) => redactCredential(text, sentAuthorization);
  const parsed = parseCrmBody(answer.body);
  const retryAfter = retryAfterSeconds(answer.retryAfter);
  if (parsed === null) {
    const contentType = answer.contentType === null ? null : mask(answer.contentType);
    return { shape: 'other', status: answer.status, description: describeBody({ ...answer, contentType }), retryAfterSeconds: retryAfter };
  }
  return {
    shape: 'crm',
    status: answer.status,
    code: mask(parsed.code),
    message: parsed.message === null ? null : mask(parsed.message),
    retryAfterSeconds: retryAfter,
  };
}
