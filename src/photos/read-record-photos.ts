import DataLoader from 'dataloader';
import { readCrmAnswer } from '../crm/answers.ts';
import type { CredentialProvider } from '../crm/credentials.ts';
import { MAX_IDS_PER_CALL, type RecordImagesReader, type RecordImagesReply } from '../crm/records-client.ts';
import {
  crmTransportFailed,
  slotRefused,
  missingCredentials,
  readRefused,
  recordsMissingFromAnswer,
  serviceTokenUnavailable,
  verdictOfCrmAnswer,
  type CrmFailure,
} from './failures.ts';

/** One record: its module's API name and its id. */
export interface RecordRef {
  moduleApiName: string;
  recordId: string;
}

/** What the CRM says of a record: not there (none such, or the caller may not see it), or there with its photo's version. */
export type RecordState = { found: false } | { found: true; photoVersion: string | null };

/** The CRM (or the gateway on its behalf) refused the read that covered this record; `failure` says why. */
export class RecordReadRefusedError extends Error {
  override name = 'RecordReadRefusedError';
  readonly failure: CrmFailure;
  constructor(failure: CrmFailure) {
    super(failure.message);
    this.failure = failure;
  }
}

/** The caller left before the CRM answered: there is no one to tell. */
export class RecordReadCancelledError extends Error {
  override name = 'RecordReadCancelledError';
}

/** Whose reads: the credentials as the caller sent them, and a signal that fires when the caller goes away. */
export interface RecordReader {
  callerAuthorization: string | null;
  signal?: AbortSignal;
}

/** Loads records for one request: `load` rejects with RecordReadRefusedError or RecordReadCancelledError. */
export type RecordLoader = DataLoader<RecordRef, RecordState, string>;

const RECORD_ID = /^\d{1,19}$/;
const NOT_FOUND: RecordState = { found: false };

const cacheKey = ({ moduleApiName, recordId }: RecordRef): string => `${moduleApiName}/${recordId}`;

/**
 * Reads records and their photos' versions (Record_Image) from the CRM in batches: every record asked for in one
 * tick of one request goes out together, one Get Records call per module and per 100 ids, each id once.
 * Knows neither GraphQL nor sockets.
 */
export class RecordPhotoReads {
  readonly #client: RecordImagesReader;
  readonly #credentials: CredentialProvider;

  constructor(client: RecordImagesReader, credentials: CredentialProvider) {
    this.#client = client;
    this.#credentials = credentials;
  }

  /**
   * A loader for one request, and only for it: permissions differ from caller to caller, so nothing is shared
   * across requests. Within the request each record is read once.
   */
  loaderFor(reader: RecordReader): RecordLoader {
    return new DataLoader<RecordRef, RecordState, string>((refs) => this.read(refs, reader), { cacheKeyFn: cacheKey });
  }

  /** One batch: a state, or the error of the call that covered it, for each record, in order. */
  async read(refs: readonly RecordRef[], reader: RecordReader): Promise<(RecordState | Error)[]> {
    const results = new Map<string, RecordState | Error>();
    // Ids that cannot be record ids name no record: no CRM call for them (and none can smuggle a comma into `ids`).
    const byModule = new Map<string, Set<string>>();
    for (const ref of refs) {
      if (!RECORD_ID.test(ref.recordId)) {
        results.set(cacheKey(ref), NOT_FOUND);
        continue;
      }
      const ids = byModule.get(ref.moduleApiName) ?? new Set();
      ids.add(ref.recordId);
      byModule.set(ref.moduleApiName, ids);
    }
    if (byModule.size > 0) {
      const credential = await this.#credentials.authorizationFor(reader.callerAuthorization);
      const calls: Promise<void>[] = [];
      for (const [moduleApiName, idSet] of byModule) {
        const ids = [...idSet];
        for (let start = 0; start < ids.length; start += MAX_IDS_PER_CALL) {
          const chunk = ids.slice(start, start + MAX_IDS_PER_CALL);
          const settle = (state: (recordId: string) => RecordState | Error) => {
            for (const recordId of chunk) results.set(cacheKey({ moduleApiName, recordId }), state(recordId));
          };
          if (!credential.ok) {
            const refusal = new RecordReadRefusedError(
              credential.reason === 'missing' ? missingCredentials(moduleApiName) : serviceTokenUnavailable(moduleApiName, credential.detail),
            );
            settle(() => refusal);
            continue;
          }
          calls.push(this.#call(moduleApiName, chunk, credential.authorization, reader.signal).then(settle));
        }
      }
      await Promise.all(calls);
    }
    return refs.map((ref) => results.get(cacheKey(ref)) ?? NOT_FOUND);
  }

  /** One Get Records call; resolves with how to settle each of its ids. */
  async #call(
    moduleApiName: string,
    recordIds: string[],
    authorization: string,
    signal: AbortSignal | undefined,
  ): Promise<(recordId: string) => RecordState | Error> {
    const reply = await this.#client.recordImages({ moduleApiName, recordIds, authorization, ...(signal ? { signal } : {}) });
    if (reply.kind === 'records') {
      const { images } = reply;
      return (recordId) => {
        const version = images.get(recordId);
        return version === undefined ? NOT_FOUND : { found: true, photoVersion: version };
      };
    }
    const error = this.#errorOf(reply, moduleApiName, recordIds, authorization);
    return () => error;
  }

  #errorOf(
    reply: Exclude<RecordImagesReply, { kind: 'records' }>,
    moduleApiName: string,
    recordIds: string[],
    authorization: string,
  ): Error {
    switch (reply.kind) {
      case 'cancelled':
        return new RecordReadCancelledError('The client went away before the CRM answered.');
      case 'queue-refused':
        return new RecordReadRefusedError(slotRefused(moduleApiName, reply));
      case 'transport-failed':
        return new RecordReadRefusedError(crmTransportFailed(reply.failure, moduleApiName));
      case 'answered': {
        const verdict = verdictOfCrmAnswer(readCrmAnswer(reply.answer, { sentAuthorization: authorization }), { moduleApiName, recordId: recordIds[0]! });
        if (verdict.ok) return new RecordReadRefusedError(recordsMissingFromAnswer(reply.answer.status, moduleApiName));
        if (verdict.failure.code === 'INVALID_TOKEN') this.#credentials.rejected(authorization);
        return new RecordReadRefusedError(readRefused(verdict.failure, moduleApiName));
      }
    }
  }
}
