/** The mutation with every field of every member, as a thorough client would select it. */
export const UPLOAD_MUTATION = /* GraphQL */ `
  mutation UploadRecordPhoto($module: CrmModule!, $recordId: ID!, $file: Upload!, $restrictWorkflow: Boolean) {
    uploadRecordPhoto(module: $module, recordId: $recordId, file: $file, restrictWorkflow: $restrictWorkflow) {
      __typename
      ... on UploadRecordPhotoSuccess {
        message
        record { module id }
        photo { filename contentType format byteSize width height }
      }
      ... on CrmError { code message resolution }
      ... on InvalidModuleError { module }
      ... on InvalidRecordError { recordId }
      ... on RecordLockedError { recordId }
      ... on PhotoRejectedError { reason maxBytes maxPixels }
      ... on PermissionDeniedError { requiredScope }
      ... on RateLimitedError { retryAfterSeconds }
      ... on CrmServiceError { retryable crmCode httpStatus }
    }
  }
`;

export interface UploadArgs {
  file: Uint8Array;
  filename?: string;
  module?: string;
  recordId?: string;
  restrictWorkflow?: boolean;
  /** null sends no Authorization header. */
  authorization?: string | null;
  clientContentType?: string;
}

export interface GraphQLResponse {
  status: number;
  body: {
    data?: { uploadRecordPhoto: Record<string, unknown> & { __typename: string } } | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

/** Sends the mutation as a GraphQL multipart request with fetch and FormData, as a browser would. */
export async function uploadPhoto(url: string, args: UploadArgs): Promise<GraphQLResponse> {
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: UPLOAD_MUTATION,
      variables: {
        module: args.module ?? 'LEADS',
        recordId: args.recordId ?? '1000000000001',
        file: null,
        restrictWorkflow: args.restrictWorkflow ?? null,
      },
    }),
  );
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([new Uint8Array(args.file)], { type: args.clientContentType ?? 'application/octet-stream' }), args.filename ?? 'photo.png');
  const headers: Record<string, string> = { 'apollo-require-preflight': 'true' };
  const authorization = args.authorization === undefined ? 'Zoho-oauthtoken emulator-token' : args.authorization;
  if (authorization !== null) headers.authorization = authorization;
  const response = await fetch(url, { method: 'POST', body: form, headers });
  return { status: response.status, body: (await response.json()) as GraphQLResponse['body'] };
}

/** The union member a successful GraphQL response carries, or a failed test. */
export function resultOf(response: GraphQLResponse): Record<string, unknown> & { __typename: string } {
  if (response.body.errors?.length || !response.body.data) {
    throw new Error(`expected a result, got HTTP ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response.body.data.uploadRecordPhoto;
}
