import { describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { multipartBody, postRaw, type RawPart } from '../support/raw-multipart.ts';
import { useStack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// One upload per operation, one field per file: a request that would send one file to the CRM twice, or two
// uploads from one request, is refused whole before any CRM call, in words that speak of the request.

const stack = useStack();

const file: RawPart = { name: '0', filename: 'photo.png', contentType: 'image/png', data: png(8, 8) };
const upload = (alias: string, recordId: string, variable = 'file') =>
  `${alias}uploadRecordPhoto(module: LEADS, recordId: "${recordId}", file: $${variable}) { __typename }`;

async function send(query: string, variables: Record<string, unknown>, map: Record<string, string[]>) {
  return postRaw(stack.url, {
    body: multipartBody([
      { name: 'operations', value: JSON.stringify({ query, variables }) },
      { name: 'map', value: JSON.stringify(map) },
      file,
    ]),
  });
}

function expectRefusal(response: Awaited<ReturnType<typeof postRaw>>, code: string, message: RegExp) {
  expect(response.status).toBe(400);
  expect(response.json?.data ?? null).toBeNull();
  expect(response.json?.errors).toHaveLength(1);
  expect(response.json?.errors?.[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code } });
  // The multipart library and its functions are ours to know about, not the client's.
  expect(response.text).not.toMatch(/graphql-upload|createReadStream|busboy/i);
}

describe('an operation asks for uploadRecordPhoto once', () => {
  it('two aliases sharing one $file: 400 FIELD_REPEATED, and the CRM never called', async () => {
    const query = `mutation ($file: Upload!) { ${upload('a: ', '1000000000001')} ${upload('b: ', '1000000000002')} }`;
    const response = await send(query, { file: null }, { 0: ['variables.file'] });
    expectRefusal(response, 'FIELD_REPEATED', /uploadRecordPhoto.*once per operation/);
    expect(await stack.crm.requests()).toEqual([]);
    expect(await stack.crm.photo('Leads', '1000000000001')).toBeNull();
  });

  it('the two uploads spread from fragments: refused the same way', async () => {
    const query =
      `mutation ($file: Upload!) { ...A ...B } ` +
      `fragment A on Mutation { ${upload('a: ', '1000000000001')} } fragment B on Mutation { ${upload('b: ', '1000000000002')} }`;
    expectRefusal(await send(query, { file: null }, { 0: ['variables.file'] }), 'FIELD_REPEATED', /once per operation/);
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('the same field twice under one name is one upload (GraphQL merges it): it goes through, once', async () => {
    const query = `mutation ($file: Upload!) { ${upload('', '1000000000001')} ${upload('', '1000000000001')} }`;
    const response = await send(query, { file: null }, { 0: ['variables.file'] });
    expect(response.status).toBe(200);
    expect(response.json?.data).toEqual({ uploadRecordPhoto: { __typename: 'UploadRecordPhotoSuccess' } });
    expect((await stack.crm.requests()).filter((entry) => entry.method === 'POST')).toHaveLength(1);
  });
});

describe('a file goes to one field', () => {
  it('a map that sends one file into two variables: 400 BAD_MULTIPART_REQUEST, and the CRM never called', async () => {
    const query = `mutation ($f1: Upload!, $f2: Upload!) { ${upload('a: ', '1000000000001', 'f1')} ${upload('b: ', '1000000000002', 'f2')} }`;
    const response = await send(query, { f1: null, f2: null }, { 0: ['variables.f1', 'variables.f2'] });
    expectRefusal(response, 'BAD_MULTIPART_REQUEST', /file '0'.*one place/);
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('…even when the operation uses only one of them', async () => {
    const query = `mutation ($f1: Upload!, $f2: Upload) { ${upload('', '1000000000001', 'f1')} }`;
    const response = await send(query, { f1: null, f2: null }, { 0: ['variables.f1', 'variables.f2'] });
    expectRefusal(response, 'BAD_MULTIPART_REQUEST', /file '0'.*one place/);
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('and after each refusal the next upload goes through', async () => {
    expect(resultOf(await uploadPhoto(stack.url, { file: png(8, 8) })).__typename).toBe('UploadRecordPhotoSuccess');
  });
});
