import type { CredentialProvider } from '../crm/credentials.ts';
import type { PhotoFileRequest } from '../crm/photo-files-client.ts';
import { invalidRecordId, missingCredentials, serviceTokenUnavailable, type CrmFailure } from './failures.ts';

/** A download or a delete of one record's photo, as the transport hands it over. */
export interface PhotoFileCallRequest {
  moduleApiName: string;
  recordId: string;
  callerAuthorization: string | null;
  /** Aborted when the client goes away: the CRM request is aborted with it. */
  signal?: AbortSignal;
  /** Who is calling (a hash of its credential, or its address), for its share of the CRM slots. */
  caller?: string;
}

const RECORD_ID = /^\d{1,19}$/;

/**
 * What a download and a delete check before they call the CRM (a record id of 1-19 digits, then a credential), and
 * the CRM request that follows; or the failure that ends the call with no CRM call.
 */
export async function photoFileRequest(
  request: PhotoFileCallRequest,
  credentials: CredentialProvider,
): Promise<{ ok: true; request: PhotoFileRequest } | { ok: false; failure: CrmFailure }> {
  const { moduleApiName, recordId } = request;
  const target = { moduleApiName, recordId };
  if (!RECORD_ID.test(recordId)) return { ok: false, failure: invalidRecordId(target) };
  const credential = await credentials.authorizationFor(request.callerAuthorization);
  if (!credential.ok) {
    const failure = credential.reason === 'missing' ? missingCredentials(moduleApiName) : serviceTokenUnavailable(moduleApiName, credential.detail);
    return { ok: false, failure };
  }
  return {
    ok: true,
    request: {
      target,
      authorization: credential.authorization,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.caller ? { caller: request.caller } : {}),
    },
  };
}
