/** The CRM's Get Records API, as far as record photos need it: GET /crm/{version}/{module}?ids=…&fields=Record_Image. */
import { checkModuleAccess } from './access.ts';
import { ANSWERS, CRM_JSON_CONTENT_TYPE } from './answers.ts';
import type { Exchange } from './exchange.ts';
import { SEEDED_RECORD_IDS, type EmulatorState } from './state.ts';

/** The most ids one call may name. */
export const MAX_IDS = 100;

/** The fields this emulator keeps on a record besides its id. */
export const RECORD_IMAGE_FIELD = 'Record_Image';

interface RecordsRoute {
  readonly module: string;
}

const RECORDS_PATH = /^\/crm\/(v\d+)\/([^/]+)$/;

/** The module of a Get Records URL, or undefined when the path is not one. */
export function parseRecordsRoute(pathname: string): RecordsRoute | undefined {
  const match = RECORDS_PATH.exec(pathname);
  if (match === null) return undefined;
  try {
    return { module: decodeURIComponent(match[2]!) };
  } catch {
    return undefined; // broken percent-encoding is not a valid URL
  }
}

const list = (value: string | null): string[] => (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);

/**
 * As the CRM does: `fields` is required; at most 100 `ids`; ids that do not exist (or that the caller may not see) are
 * left out; no match at all is 204 with no body. Without `ids`, the module's records (one page, the seeded ten).
 * The scope is the module's READ (or ALL); reading needs no other permission.
 */
export function serveGetRecords(state: EmulatorState, ex: Exchange, route: RecordsRoute, url: URL): void {
  ex.drainThen(() => {
    if (ex.req.method !== 'GET') return ex.answerCrm(ANSWERS.invalidMethod);
    const verdict = checkModuleAccess(state, ex.req.headers.authorization, route.module, 'read');
    if (!verdict.ok) return ex.answerCrm(verdict.answer);
    const fields = list(url.searchParams.get('fields'));
    if (fields.length === 0) return ex.answerCrm(ANSWERS.fieldsMissing);
    const asked = url.searchParams.has('ids') ? [...new Set(list(url.searchParams.get('ids')))] : [...SEEDED_RECORD_IDS];
    if (asked.length > MAX_IDS) return ex.answerCrm(ANSWERS.tooManyIds);

    const withImage = fields.includes(RECORD_IMAGE_FIELD);
    const data = asked
      .filter((id) => state.recordExists(verdict.module, id))
      .map((id) => (withImage ? { [RECORD_IMAGE_FIELD]: state.photo(verdict.module, id)?.recordImage ?? null, id } : { id }));
    if (data.length === 0) return ex.answer(204, '', null);
    const body = JSON.stringify({ data, info: { per_page: 200, count: data.length, page: 1, more_records: false } });
    ex.answer(200, body, null, { headers: { 'content-type': CRM_JSON_CONTENT_TYPE } });
  });
}
