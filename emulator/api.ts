/** The CRM API: the photo endpoint (POST/GET/DELETE /crm/{version}/{module}/{recordId}/photo) and Get Records (records.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkAccess, type Operation } from './access.ts';
import { ANSWERS } from './answers.ts';
import { Exchange } from './exchange.ts';
import { applyFault } from './fault-actions.ts';
import { collectFilePart, isMultipartFormData, type FilePartOutcome } from './multipart-photo.ts';
import { CRM_MAX_PHOTO_BYTES, judgePhoto } from './photo-check.ts';
import { readPhotoExif } from './photo-exif.ts';
import { parseRecordsRoute, serveGetRecords } from './records.ts';
import type { EmulatorState } from './state.ts';

export const FILE_FIELD = 'file';

interface PhotoRoute {
  readonly module: string;
  readonly recordId: string;
}

const PHOTO_PATH = /^\/crm\/([^/]+)\/([^/]+)\/([^/]+)\/photo$/;
const VERSION = /^v\d+$/;

/** The module and record of a photo URL, or undefined when the path is not one. */
export function parsePhotoRoute(pathname: string): PhotoRoute | undefined {
  const match = PHOTO_PATH.exec(pathname);
  if (match === null || !VERSION.test(match[1]!)) return undefined;
  try {
    return { module: decodeURIComponent(match[2]!), recordId: decodeURIComponent(match[3]!) };
  } catch {
    return undefined; // broken percent-encoding is not a valid URL
  }
}

const OPERATIONS: Record<string, Operation> = { POST: 'upload', GET: 'read', DELETE: 'delete' };

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

export function handleApiRequest(state: EmulatorState, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://emulator.invalid');
  const entry = state.logRequest({
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    authorization: header(req, 'authorization'),
    contentType: header(req, 'content-type'),
    transferEncoding: header(req, 'transfer-encoding'),
    contentLength: header(req, 'content-length'),
    traceparent: header(req, 'traceparent'),
  });
  const ex = new Exchange(entry, req, res);
  ex.guard(() => {
    const route = parsePhotoRoute(url.pathname);
    const records = route === undefined ? parseRecordsRoute(url.pathname) : undefined;
    const fault = state.takeFault(route?.module ?? records?.module ?? null, route?.recordId ?? null);
    if (fault !== undefined && applyFault(ex, fault)) return;
    if (records !== undefined) return serveGetRecords(state, ex, records, url);
    serve(state, ex, route, url);
  });
}

function serve(state: EmulatorState, ex: Exchange, route: PhotoRoute | undefined, url: URL): void {
  if (route === undefined) return ex.drainThen(() => ex.answerCrm(ANSWERS.invalidUrl));
  const operation = OPERATIONS[ex.req.method ?? ''];
  if (operation === undefined) return ex.drainThen(() => ex.answerCrm(ANSWERS.invalidMethod));

  const verdict = checkAccess(state, ex.req.headers.authorization, route.module, route.recordId, operation);
  if (!verdict.ok) {
    const { answer } = verdict;
    return ex.drainThen(() => ex.answerCrm(answer));
  }
  const module = verdict.module;
  switch (operation) {
    case 'upload':
      return receivePhoto(state, ex, module, route.recordId, url.searchParams.get('restrict_triggers'));
    case 'read':
      return ex.drainThen(() => {
        const photo = state.photo(module, route.recordId);
        if (photo === undefined) return ex.answer(204, '', null);
        ex.answer(200, photo.bytes, null, { headers: { 'content-type': photo.contentType } });
      });
    case 'delete':
      return ex.drainThen(() => {
        state.deletePhoto(module, route.recordId);
        ex.answerCrm(ANSWERS.deleted);
      });
  }
}

function receivePhoto(
  state: EmulatorState,
  ex: Exchange,
  module: string,
  recordId: string,
  restrictTriggers: string | null,
): void {
  if (!isMultipartFormData(ex.req.headers['content-type'])) return ex.drainThen(() => ex.answerCrm(ANSWERS.fileMissing));
  let collector: ReturnType<typeof collectFilePart>;
  try {
    collector = collectFilePart(ex.req.headers, FILE_FIELD, CRM_MAX_PHOTO_BYTES, (file) => {
      ex.entry.file = file;
    });
  } catch (error) {
    return ex.drainThen(() => ex.answerCrm(malformed(error)));
  }
  const { parser, outcome } = collector;
  parser.on('error', () => ex.discardRest());
  ex.onCleanup(() => parser.destroy());
  ex.consume(parser);
  void Promise.all([outcome, ex.bodyEnded]).then(([result, ended]) => {
    if (ended) ex.guard(() => finishUpload(state, ex, module, recordId, restrictTriggers, result));
  });
}

function malformed(reason: unknown): typeof ANSWERS.invalidMultipart {
  const detail = reason instanceof Error ? reason.message : String(reason);
  return { ...ANSWERS.invalidMultipart, message: `${ANSWERS.invalidMultipart.message}: ${detail}` };
}

function finishUpload(
  state: EmulatorState,
  ex: Exchange,
  module: string,
  recordId: string,
  restrictTriggers: string | null,
  result: FilePartOutcome,
): void {
  if (result.kind === 'malformed') return ex.answerCrm(malformed(result.reason));
  if (result.kind === 'missing') return ex.answerCrm(ANSWERS.fileMissing);
  const { file, bytes } = result;
  if (bytes === null || file.size > CRM_MAX_PHOTO_BYTES) return ex.answerCrm(ANSWERS.tooLarge);

  const verdict = judgePhoto(bytes);
  if (verdict.kind === 'not-an-image') return ex.answerCrm(ANSWERS.notAnImage);
  if (verdict.kind === 'too-many-pixels') return ex.answerCrm(ANSWERS.tooLarge);

  const exif = readPhotoExif(bytes);
  state.storePhoto(module, recordId, {
    bytes,
    width: verdict.width,
    height: verdict.height,
    orientation: exif.orientation,
    gps: exif.gps,
    filename: file.filename,
    contentType: file.contentType,
    size: file.size,
    restrictTriggers,
    uploadedAt: Date.now(),
  });
  ex.answerCrm(ANSWERS.uploaded);
}
