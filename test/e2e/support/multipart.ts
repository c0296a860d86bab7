import type { GraphQLHttpResponse } from './graphql-http.ts';

export interface MultipartUpload {
  query: string;
  variables: Record<string, unknown>;
  /** Placed at `variables.file`. */
  file: Uint8Array;
  filename?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** A GraphQL multipart request (one file at variables.file) sent with fetch and FormData, as a browser would. */
export async function postMultipart<TData = Record<string, any>>(url: string, upload: MultipartUpload): Promise<GraphQLHttpResponse<TData>> {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: upload.query, variables: { ...upload.variables, file: null } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([new Uint8Array(upload.file)], { type: upload.contentType ?? 'image/png' }), upload.filename ?? 'photo.png');
  const response = await fetch(url, { method: 'POST', body: form, headers: upload.headers ?? {} });
  const text = await response.text();
  try {
    return { status: response.status, headers: response.headers, body: JSON.parse(text) };
  } catch {
    throw new Error(`HTTP ${response.status} from ${url} is not JSON: ${text.slice(0, 500)}`);
  }
}
