import { describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { BOUNDARY, multipartBody, postRaw, uploadParts, type RawPart } from '../support/raw-multipart.ts';
import { useStack } from '../support/stack.ts';
import { UPLOAD_MUTATION, resultOf, uploadPhoto } from '../support/upload-client.ts';

// Broken GraphQL multipart requests: a 4xx with a clear GraphQL error, no CRM call, and the server goes on.

const stack = useStack();

const file: RawPart = { name: '0', filename: 'a.png', contentType: 'image/png', data: png(10, 10) };
const operations = (value: string): RawPart => ({ name: 'operations', value });
const map = (value: string): RawPart => ({ name: 'map', value });
const validOperations = uploadParts()[0]!;
const validMap = uploadParts()[1]!;

const cases: [string, Buffer, number, RegExp][] = [
  ['operations that are not JSON', multipartBody([operations('{not json'), validMap, file]), 400, /Invalid JSON in the 'operations' multipart field/],
  ['operations that are a string', multipartBody([operations('"query"'), validMap, file]), 400, /Invalid type for the 'operations' multipart field/],
  ['no operations field', multipartBody([validMap, file]), 400, /Misordered multipart fields; 'map' should follow 'operations'|Missing multipart field 'operations'/],
  ['no map field', multipartBody([validOperations, file]), 400, /files should follow 'map'|Missing multipart field 'map'/],
  ['no fields at all', multipartBody([]), 400, /.+/],
  ['a map that is not JSON', multipartBody([validOperations, map('[oops'), file]), 400, /Invalid JSON in the 'map' multipart field/],
  ['a map that is an array', multipartBody([validOperations, map('[]'), file]), 400, /Invalid type for the 'map' multipart field/],
  ['a map entry that is not an array', multipartBody([validOperations, map('{"0":"variables.file"}'), file]), 400, /'map' multipart field entry key '0' array/],
  ['a map pointing nowhere', multipartBody([validOperations, map('{"0":["variables.nothing.here"]}'), file]), 400, /'variables\.nothing\.here' names no variable of the operation \(it declares \$module, \$recordId, \$file, \$restrictWorkflow\)/],
  ['a map into the query', multipartBody([validOperations, map('{"0":["query"]}'), file]), 400, /'query' does not lead into the variables/],
  ['a map to a prototype', multipartBody([validOperations, map('{"0":["variables.__proto__.polluted"]}'), file]), 400, /.+/],
  ['a file before the map', multipartBody([validOperations, file, validMap]), 400, /files should follow 'map'/],
  ['a map naming a file that never comes', multipartBody([validOperations, validMap]), 400, /File missing in the request/],
  ['more files than allowed', multipartBody([validOperations, map('{"0":["variables.file"],"1":["variables.file"]}'), file, { ...file, name: '1' }]), 413, /1 max file uploads exceeded/],
  ['an oversized operations field', multipartBody([operations(JSON.stringify({ query: UPLOAD_MUTATION, padding: 'x'.repeat(200_000) })), validMap, file]), 413, /exceeds the 100000 byte size limit/],
  ['a body cut off in the middle', multipartBody([validOperations, validMap, file]).subarray(0, 700), 400, /.+/],
  ['a boundary that does not match', multipartBody([validOperations, validMap, file], 'other-boundary'), 400, /.+/],
];

describe('malformed multipart requests', () => {
  it.each(cases)('%s → HTTP %i with a GraphQL error', async (_name, body, status, message) => {
    const response = await postRaw(stack.url, { body });
    expect(response.status).toBe(status);
    expect(response.json?.errors?.[0]?.message).toMatch(message);
    expect(response.json?.errors?.[0]?.extensions?.code).toEqual(expect.any(String));
    expect(await stack.crm.requests()).toEqual([]);
    // the process is unharmed
    expect(resultOf(await uploadPhoto(stack.url, { file: png(5, 5) })).__typename).toBe('UploadRecordPhotoSuccess');
  });

  it('a part header line without a colon → 400, and the parser\'s second error does not crash the process', async () => {
    const broken = Buffer.concat([
      multipartBody([validOperations, validMap]).subarray(0, -`--${BOUNDARY}--\r\n`.length),
      Buffer.from(`--${BOUNDARY}\r\nthis header line has no colon\r\n\r\nx\r\n--${BOUNDARY}--\r\n`),
    ]);
    const response = await postRaw(stack.url, { body: broken });
    expect(response.status).toBe(400);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('BAD_MULTIPART_REQUEST');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(resultOf(await uploadPhoto(stack.url, { file: png(5, 5) })).__typename).toBe('UploadRecordPhotoSuccess');
  });

  it.each(['variables.hasOwnProperty.call', 'variables.constructor.prototype.polluted', 'variables.toString.x', 'variables.file.__proto__'])(
    'a map path through a prototype (%s) → 400, and nothing is polluted',
    async (path) => {
      const response = await postRaw(stack.url, { body: multipartBody([validOperations, map(JSON.stringify({ 0: [path] })), file]) });
      expect(response.status).toBe(400);
      expect(response.json?.errors?.[0]?.extensions?.code).toBe('BAD_MULTIPART_REQUEST');
      expect(typeof Object.prototype.hasOwnProperty.call).toBe('function');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(resultOf(await uploadPhoto(stack.url, { file: png(5, 5) })).__typename).toBe('UploadRecordPhotoSuccess');
    },
  );

  it('a body cut off inside the file → 400, not a field error under 200', async () => {
    await stack.crm.reset();
    const body = multipartBody([validOperations, validMap, { ...file, data: png(300, 300) }]);
    const response = await postRaw(stack.url, {
      headers: { 'transfer-encoding': 'chunked' },
      write: async (request) => {
        request.end(body.subarray(0, body.length - 200));
      },
    });
    expect(response.status).toBe(400);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('BAD_MULTIPART_REQUEST');
  });

  it('one file used by two fields → 400 FIELD_REPEATED, in words of the request', async () => {
    const twice = JSON.stringify({
      query: `mutation ($file: Upload!) {
        a: uploadRecordPhoto(module: LEADS, recordId: "1000000000001", file: $file) { __typename }
        b: uploadRecordPhoto(module: LEADS, recordId: "1000000000002", file: $file) { __typename }
      }`,
      variables: { file: null },
    });
    const response = await postRaw(stack.url, { body: multipartBody([operations(twice), validMap, file]) });
    expect(response.status).toBe(400);
    expect(response.json?.errors?.[0]).toMatchObject({ message: expect.stringMatching(/once per operation/), extensions: { code: 'FIELD_REPEATED' } });
    expect(response.text).not.toMatch(/createReadStream|graphql-upload/);
  });

  it.each(['values', 'keys', 'entries', 'at', 'find', 'toString'])('a file variable named $%s is an ordinary upload', async (name) => {
    const query = UPLOAD_MUTATION.replaceAll('$file', `$${name}`);
    const body = multipartBody([
      operations(JSON.stringify({ query, variables: { module: 'LEADS', recordId: '1000000000001', [name]: null } })),
      map(JSON.stringify({ 0: [`variables.${name}`] })),
      file,
    ]);
    const response = await postRaw(stack.url, { body });
    expect(response.json?.data?.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');
  });

  it('a map path into a string of the operations (query.at.call) → 400', async () => {
    const response = await postRaw(stack.url, { body: multipartBody([validOperations, map('{"0":["query.at.call"]}'), file]) });
    expect(response.status).toBe(400);
    expect(typeof String.prototype.at.call).toBe('function');
  });

  // (With GRAPHQL_MAX_TOKENS raised, the parser's own overflow is a 400 GRAPHQL_PARSE_FAILED: operation-limits.test.ts.)
  it('a document nested too deeply for the parser → 400 MAX_TOKENS_EXCEEDED, not a stack overflow', async () => {
    const query = `mutation($file: Upload!) { uploadRecordPhoto(module: LEADS, recordId: ${'['.repeat(5_000)}${']'.repeat(5_000)}, file: $file) { __typename } }`;
    const response = await postRaw(stack.url, { body: multipartBody([operations(JSON.stringify({ query, variables: { file: null } })), validMap, file]) });
    expect(response.status).toBe(400);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('MAX_TOKENS_EXCEEDED');
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['multipart/mixed', 'multipart/mixed; boundary=x'],
  ])('a POST as %s → 415 UNSUPPORTED_MEDIA_TYPE', async (_name, contentType) => {
    const response = await postRaw(stack.url, { body: Buffer.from('{"query":"{ __typename }"}'), contentType });
    expect(response.status).toBe(415);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('an upper-case media type is still multipart', async () => {
    const body = multipartBody([validOperations, validMap, file]);
    const response = await postRaw(stack.url, { body, contentType: `MULTIPART/FORM-DATA; boundary=${BOUNDARY}` });
    expect(response.json?.data?.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');
  });

  it('a content type without a boundary → 400', async () => {
    const response = await postRaw(stack.url, { body: Buffer.from('x'), contentType: 'multipart/form-data' });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.json?.errors?.[0]?.message).toBeTruthy();
  });

  it('a file mapped to a variable the operation does not declare is refused and drained, not left hanging', async () => {
    const body = multipartBody([validOperations, map('{"0":["variables.unused"]}'), file]);
    const response = await postRaw(stack.url, { body });
    expect(response.status).toBe(400);
    expect(response.json?.errors?.[0]?.message).toMatch(/'variables\.unused' names no variable of the operation/);
    expect(response.json?.errors?.[0]?.extensions?.code).toBe('BAD_MULTIPART_REQUEST');
    expect(await stack.crm.requests()).toEqual([]);
    expect(resultOf(await uploadPhoto(stack.url, { file: png(5, 5) })).__typename).toBe('UploadRecordPhotoSuccess');
  });

  it('a query with a syntax error → 400', async () => {
    const body = multipartBody([operations(JSON.stringify({ query: 'mutation {', variables: { file: null } })), validMap, file]);
    const response = await postRaw(stack.url, { body });
    expect(response.status).toBe(400);
    expect(response.json?.errors?.[0]?.message).toMatch(/Syntax Error/);
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('an unknown module → a validation error naming the enum', async () => {
    const response = await uploadPhoto(stack.url, { file: png(5, 5), module: 'DOCUMENTS' });
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.message).toMatch(/CrmModule/);
  });

  it('batched operations in one multipart request are refused', async () => {
    const body = multipartBody([
      operations(JSON.stringify([{ query: UPLOAD_MUTATION, variables: { module: 'LEADS', recordId: '1000000000001', file: null } }])),
      map('{"0":["0.variables.file"]}'),
      file,
    ]);
    const response = await postRaw(stack.url, { body });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(await stack.crm.requests()).toEqual([]);
  });

  it(`uses the boundary from the content type (${BOUNDARY.length} characters here)`, async () => {
    const body = multipartBody([validOperations, validMap, file], 'x');
    const response = await postRaw(stack.url, { body, contentType: 'multipart/form-data; boundary=x' });
    expect(response.json?.data?.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');
  });
});
