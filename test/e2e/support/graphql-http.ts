/** A GraphQL response as a client sees it over HTTP. */
export interface GraphQLHttpResponse<TData = Record<string, any>> {
  status: number;
  headers: Headers;
  body: { data?: TData | null; errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[] };
}

/** POSTs a JSON GraphQL request the way any HTTP client would. */
export async function postJson<TData = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLHttpResponse<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: GraphQLHttpResponse<TData>['body'];
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${response.status} from ${url} is not JSON: ${text.slice(0, 500)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** The data of a response that must have succeeded, or a failed test naming what came back. */
export function dataOf<TData>(response: GraphQLHttpResponse<TData>): TData {
  if (response.status !== 200 || response.body.errors?.length || !response.body.data) {
    throw new Error(`expected data, got HTTP ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response.body.data;
}
