import { readCrmAnswer } from '../crm/answers.ts';
import type { CredentialProvider } from '../crm/credentials.ts';
import type { PhotoFiles } from '../crm/photo-files-client.ts';
import {
  crmTransportFailed,
  slotRefused,
  unexpectedCrmAnswer,
  verdictOfCrmAnswer,
  type CrmFailure,
} from './failures.ts';
import { photoFileRequest, type PhotoFileCallRequest } from './photo-file-call.ts';

export type PhotoDeleteRequest = PhotoFileCallRequest;

export type PhotoDeleteOutcome =
  | { ok: true; record: { moduleApiName: string; id: string }; message: string }
  | { ok: false; failure: CrmFailure };

/** The client went away before the CRM answered: whether the photo is gone is unknown, and no one is left to tell. */
export class DeleteCancelledError extends Error {
  override name = 'DeleteCancelledError';
}

/** Removes a record's photo: the same checks as an upload, then `DELETE …/photo`, its answer judged as uploads' are. */
export class PhotoDeleteService {
  readonly #files: PhotoFiles;
  readonly #credentials: CredentialProvider;

  constructor(files: PhotoFiles, credentials: CredentialProvider) {
    this.#files = files;
    this.#credentials = credentials;
  }

  /** Rejects with a DeleteCancelledError when the client left first; any other rejection is a bug. */
  async delete(request: PhotoDeleteRequest): Promise<PhotoDeleteOutcome> {
    const { moduleApiName, recordId } = request;
    const call = await photoFileRequest(request, this.#credentials);
    if (!call.ok) return call;
    const { target, authorization } = call.request;
    const reply = await this.#files.deletePhoto(call.request);
    switch (reply.kind) {
      case 'cancelled':
        throw new DeleteCancelledError('the client went away before the CRM answered');
      case 'queue-refused':
        return { ok: false, failure: slotRefused(moduleApiName, reply) };
      case 'transport-failed':
        return { ok: false, failure: crmTransportFailed(reply.failure, moduleApiName) };
      case 'answered': {
        const verdict = verdictOfCrmAnswer(readCrmAnswer(reply.answer, { sentAuthorization: authorization }), target, 'delete');
        if (!verdict.ok) {
          const { failure } = verdict;
          if (failure.code === 'INVALID_TOKEN') this.#credentials.rejected(authorization);
          // A refusal of the photo's bytes means nothing for a delete, and is no member of its result.
          if (failure.kind === 'photo-rejected') {
            return { ok: false, failure: unexpectedCrmAnswer(reply.answer.status, `code ${failure.code}, which does not apply to a delete`, moduleApiName) };
          }
          return verdict;
        }
        return { ok: true, record: { moduleApiName, id: recordId }, message: verdict.message };
      }
    }
  }
}
