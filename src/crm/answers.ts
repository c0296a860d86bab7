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

/** Reads one CRM answer; what its code means for the caller is decided by the use case. */
export function readCrmAnswer(answer: CrmAnswer): ReadCrmAnswer {
  const parsed = parseCrmBody(answer.body);
  const retryAfter = retryAfterSeconds(answer.retryAfter);
  if (parsed === null) return { shape: 'other', status: answer.status, description: describeBody(answer), retryAfterSeconds: retryAfter };
  return { shape: 'crm', status: answer.status, ...parsed, retryAfterSeconds: retryAfter };
}
