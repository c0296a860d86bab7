import { Agent, type Dispatcher } from 'undici';
import type { CrmAnswer } from './answers.ts';
import type { CrmCallOptions } from './crm-pool.ts';
import { takeCrmSlot } from './crm-slot.ts';
import { classifyTransportError, type TransportFailure } from './transport-errors.ts';

/** The CRM's limit on ids in one Get Records call. */
export const MAX_IDS_PER_CALL = 100;

/** The field whose value is the id of the record's photo (null: none); it changes whenever the photo does. */
export const RECORD_IMAGE_FIELD = 'Record_Image';

export type RecordsClientOptions = CrmCallOptions;

export interface RecordImagesRequest {
  moduleApiName: string;
  /** 1 to MAX_IDS_PER_CALL record ids, each 1-19 digits. */
  recordIds: readonly string[];
  /** The full Authorization header value, `Zoho-oauthtoken …`. */
  authorization: string;
  /** Aborted when the caller no longer wants the answer. */
  signal?: AbortSignal;
}

export type RecordImagesReply =
  /** The records the CRM returned, each with its Record_Image (null: no photo); ids it left out are not there. */
  | { kind: 'records'; status: 200 | 204; images: ReadonlyMap<string, string | null> }
  /** Any other answer (an error code, a page that is not the CRM's, records in a shape we do not know), to be judged. */
  | { kind: 'answered'; answer: CrmAnswer }
  | { kind: 'transport-failed'; failure: TransportFailure; detail: string }
  /** Too many calls already in flight to the CRM: nothing was sent. */
  | { kind: 'queue-refused'; detail: string; retryAfterSeconds: number; crmPaused?: true }
  | { kind: 'cancelled' };

/** What the read use case needs of a CRM client: its seam for tests. */
export interface RecordImagesReader {
  recordImages(request: RecordImagesRequest): Promise<RecordImagesReply>;
}

/** A hundred records with their Record_Image come to a few kilobytes; more is read off and dropped. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * Reads records' Record_Image with the CRM's Get Records API (`GET /crm/{version}/{module}?ids=…&fields=Record_Image`),
 * each call inside a slot of the concurrency limit the uploads share. Knows HTTP, not GraphQL.
 */
export class RecordsClient implements RecordImagesReader {
  /** The keep-alive pool to the CRM origin: shared with the other CRM clients when given, else our own. */
  readonly #agent: Dispatcher;
  readonly #ownsAgent: boolean;
  readonly #options: RecordsClientOptions;

  constructor(options: RecordsClientOptions) {
    this.#options = options;
    this.#ownsAgent = options.pool === undefined;
    this.#agent = options.pool ?? new Agent({ connect: { timeout: options.connectTimeoutMs } });
  }

  recordsPath(moduleApiName: string, recordIds: readonly string[]): string {
    const query = new URLSearchParams({ ids: recordIds.join(','), fields: RECORD_IMAGE_FIELD });
    return `/crm/${this.#options.apiVersion}/${encodeURIComponent(moduleApiName)}?${query}`;
  }

  async recordImages(request: RecordImagesRequest): Promise<RecordImagesReply> {
    if (request.recordIds.length === 0 || request.recordIds.length > MAX_IDS_PER_CALL) {
      throw new RangeError(`a Get Records call takes 1 to ${MAX_IDS_PER_CALL} ids, not ${request.recordIds.length}`);
    }
    const observer = this.#options.observer;
    const slot = await takeCrmSlot(this.#options.limit, request, { queueTimeoutMs: this.#options.queueTimeoutMs, observer });
    if (!slot.ok) return slot.refusal;
    let status: number | null = null;
    try {
      const reply = await this.#send(request);
      if (reply.kind === 'records') status = reply.status;
      else if (reply.kind === 'answered') {
        status = reply.answer.status;
        slot.answered(reply.answer);
      }
      return reply;
    } finally {
      slot.release();
      observer?.crmCallEnded?.({ operation: 'get-records', status, durationMs: performance.now() - slot.grantedAt });
    }
  }

  async #send(request: RecordImagesRequest): Promise<RecordImagesReply> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#agent.request({
        origin: this.#options.apiDomain,
        path: this.recordsPath(request.moduleApiName, request.recordIds),
        method: 'GET',
        headers: { authorization: request.authorization, accept: 'application/json' },
        ...(request.signal ? { signal: request.signal } : {}),
        headersTimeout: this.#options.responseTimeoutMs,
        // Counts only while we read: a body paused because our own caller reads slowly does not time out here.
        bodyTimeout: this.#options.responseTimeoutMs,
      });
    } catch (error) {
      if (request.signal?.aborted) return { kind: 'cancelled' };
      return { kind: 'transport-failed', ...classifyTransportError(error) };
    }
    let body: string;
    try {
      body = await readBody(response);
    } catch (error) {
      if (request.signal?.aborted) return { kind: 'cancelled' };
      return { kind: 'transport-failed', ...classifyTransportError(error) };
    }
    // No record matched at all: 204 with no body.
    if (response.statusCode === 204) return { kind: 'records', status: 204, images: new Map() };
    const answer: CrmAnswer = {
      status: response.statusCode,
      contentType: header(response, 'content-type'),
      retryAfter: header(response, 'retry-after'),
      body,
    };
    if (response.statusCode === 200) {
      const images = recordImagesIn(body, request.recordIds);
      if (images) return { kind: 'records', status: 200, images };
    }
    return { kind: 'answered', answer };
  }

  /** Closes our own pool; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.#ownsAgent) await this.#agent.close();
  }

  /** Closes at once, aborting anything in flight. */
  async destroy(): Promise<void> {
    if (this.#ownsAgent) await this.#agent.destroy();
  }
}

/**
 * `{"data":[{"id":"…","Record_Image":"…"|null}],"info":{…}}` → id → Record_Image, for the ids asked for;
 * null when the body is not that shape (the caller judges it as an unexpected answer).
 */
export function recordImagesIn(body: string, asked: readonly string[]): Map<string, string | null> | null {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return null;
  }
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return null;
  const wanted = new Set(asked);
  const images = new Map<string, string | null>();
  for (const record of data) {
    if (typeof record !== 'object' || record === null) return null;
    const { id } = record as { id?: unknown };
    const image = (record as Record<string, unknown>)[RECORD_IMAGE_FIELD];
    if (typeof id !== 'string') return null;
    if (image !== undefined && image !== null && typeof image !== 'string') return null;
    if (wanted.has(id)) images.set(id, image === undefined || image === '' ? null : image);
  }
  return images;
}

function header(response: Dispatcher.ResponseData, name: string): string | null {
  const value = response.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

async function readBody(response: Dispatcher.ResponseData): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    if (size < MAX_ANSWER_BYTES) chunks.push(buffer.subarray(0, MAX_ANSWER_BYTES - size));
    size += buffer.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}
