/** Helpers for the photo routes: GraphQL over JSON, and downloads with fetch. */

export interface GraphQLAnswer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/** A JSON GraphQL request, as a server or a browser with a preflight would send it. */
export async function graphql(url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<GraphQLAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Zoho-oauthtoken emulator-token', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLAnswer['body'] };
}

export const PHOTO_QUERY = /* GraphQL */ `
  query Photo($module: CrmModule!, $id: ID!) {
    crmRecord(module: $module, id: $id) { module id photo { version url } }
  }
`;

/** `RecordPhoto.url` of a record, as the gateway gives it (null: no photo). */
export async function photoUrlOf(graphqlUrl: string, recordId = '1000000000001', headers: Record<string, string> = {}, module = 'LEADS'): Promise<string | null> {
  const answer = await graphql(graphqlUrl, PHOTO_QUERY, { module, id: recordId }, headers);
  const record = answer.body.data?.crmRecord as { photo: { url: string } | null } | null | undefined;
  if (record === undefined) throw new Error(`no crmRecord in ${JSON.stringify(answer.body)}`);
  return record?.photo?.url ?? null;
}

/** The gateway's origin, from its GraphQL URL. */
export function originOf(graphqlUrl: string): string {
  return new URL(graphqlUrl).origin;
}

export interface Download {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: { code?: string; message?: string; resolution?: string | null; retryAfterSeconds?: number } | undefined;
}

/** GETs a photo URL (path-relative ones against the gateway's origin) and reads the whole answer. */
export async function download(graphqlUrl: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Download> {
  const response = await fetch(new URL(path, originOf(graphqlUrl)), { method, headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  let json: Download['json'];
  if (response.headers.get('content-type')?.startsWith('application/json')) json = JSON.parse(bytes.toString('utf8')) as Download['json'];
  return { status: response.status, headers: response.headers, bytes, json };
}
