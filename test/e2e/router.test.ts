import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { png, withPadding } from '../fixtures/images.ts';
import { multipartBody, postRaw, uploadParts } from '../support/raw-multipart.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { RECENT_NOTES, startNotesSubgraph, type NotesSubgraph } from './fixtures/notes-subgraph.ts';
import { postJson } from './support/graphql-http.ts';
import { postMultipart } from './support/multipart.ts';
import { startRecordingProxy, type RecordingProxy } from './support/recording-proxy.ts';
import { startRouter, type Router } from './support/router.ts';
import { composeSupergraph, type Supergraph } from './support/supergraph.ts';

// A Hive Gateway router in front of our subgraph (seen through a recording proxy) and the notes subgraph.

let stack: Stack;
let notes: NotesSubgraph;
let photosWire: RecordingProxy;
let supergraph: Supergraph;
let router: Router;
beforeAll(async () => {
  stack = await startStack();
  notes = await startNotesSubgraph();
  photosWire = await startRecordingProxy(stack.url);
  supergraph = await composeSupergraph([
    { name: 'photos', url: photosWire.url },
    { name: 'notes', url: notes.url },
  ]);
  router = await startRouter(supergraph.path);
});
afterAll(async () => {
  await router?.close();
  await supergraph?.dispose();
  await photosWire?.close();
  await notes?.close();
  await stack?.close();
});
beforeEach(async () => {
  await stack.crm.reset();
  photosWire.requests.length = 0;
  notes.representations.length = 0;
});

const UPLOAD_WITH_NOTES = /* GraphQL */ `
  mutation UploadWithNotes($module: CrmModule!, $recordId: ID!, $file: Upload!) {
    uploadRecordPhoto(module: $module, recordId: $recordId, file: $file) {
      __typename
      ... on UploadRecordPhotoSuccess {
        record { module id notes }
        photo { filename contentType byteSize width height }
      }
      ... on CrmError { code message }
      ... on RecordLockedError { recordId }
    }
  }
`;

const CLIENT_HEADERS = { authorization: 'Zoho-oauthtoken router-client-token', 'apollo-require-preflight': 'true' };

const uploadThroughRouter = (file: Uint8Array, variables: Record<string, unknown>, headers: Record<string, string> = CLIENT_HEADERS) =>
  postMultipart(router.url, { query: UPLOAD_WITH_NOTES, variables, file, filename: 'storefront.png', headers });

describe('through a Hive Gateway router', () => {
  it('joins the notes subgraph onto the upload result through _entities', async () => {
    await stack.crm.addToken('router-client-token', ['ZohoCRM.modules.ALL']);
    const response = await uploadThroughRouter(png(20, 10), { module: 'CONTACTS', recordId: '1000000000004' });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      data: {
        uploadRecordPhoto: {
          __typename: 'UploadRecordPhotoSuccess',
          record: { module: 'CONTACTS', id: '1000000000004', notes: notes.notesFor({ module: 'CONTACTS', id: '1000000000004' }) },
          photo: { filename: 'storefront.png', contentType: 'image/png', byteSize: png(20, 10).length, width: 20, height: 10 },
        },
      },
    });
    // the router asked the notes subgraph for exactly the record our subgraph returned, by enum name
    expect(notes.representations).toEqual([{ module: 'CONTACTS', id: '1000000000004' }]);
  });

  it('forwards an upload as multipart to our subgraph, which streams the exact bytes to the CRM with the client token', async () => {
    await stack.crm.addToken('router-client-token', ['ZohoCRM.modules.ALL']);
    const file = withPadding(png(640, 480), 3 * 1024 * 1024);
    const response = await uploadThroughRouter(file, { module: 'LEADS', recordId: '1000000000001' });
    expect(response.body.data?.uploadRecordPhoto).toMatchObject({
      __typename: 'UploadRecordPhotoSuccess',
      photo: { byteSize: file.length, width: 640, height: 480 },
    });

    // on the wire between router and subgraph: one multipart POST carrying the file and the client's headers
    expect(photosWire.requests).toHaveLength(1);
    const [forwarded] = photosWire.requests;
    expect(forwarded).toMatchObject({ method: 'POST', path: '/graphql' });
    expect(forwarded?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(forwarded?.headers['authorization']).toBe('Zoho-oauthtoken router-client-token');
    expect(forwarded?.headers['apollo-require-preflight']).toBe('true');
    expect(forwarded?.bytes).toBeGreaterThan(file.length);

    const stored = await stack.crm.photo('Leads', '1000000000001');
    expect(stored?.bytes.equals(Buffer.from(file))).toBe(true);
    expect(stored?.filename).toBe('storefront.png');
    const log = await stack.crm.requests();
    expect(log.map((entry) => [entry.path, entry.authorization])).toEqual([['/crm/v7/Leads/1000000000001/photo', 'Zoho-oauthtoken router-client-token']]);
  });

  it('passes a typed CRM failure through as its union member', async () => {
    await stack.crm.lock('Deals', '1000000000007');
    const response = await uploadThroughRouter(png(8, 8), { module: 'DEALS', recordId: '1000000000007' }, {
      ...CLIENT_HEADERS,
      authorization: 'Zoho-oauthtoken emulator-token',
    });
    expect(response.body.data?.uploadRecordPhoto).toEqual({ __typename: 'RecordLockedError', code: 'RECORD_LOCKED', message: expect.any(String), recordId: '1000000000007' });
    expect(notes.representations).toEqual([]);
  });

  it('forwards no token the client did not send: MISSING_CREDENTIALS, and the CRM is not called', async () => {
    const response = await uploadThroughRouter(png(8, 8), { module: 'LEADS', recordId: '1000000000001' }, { 'apollo-require-preflight': 'true' });
    expect(response.body.data?.uploadRecordPhoto).toMatchObject({ __typename: 'AuthenticationError', code: 'MISSING_CREDENTIALS' });
    expect(photosWire.requests[0]?.headers['authorization']).toBeUndefined();
    expect(await stack.crm.requests()).toEqual([]);
  });

  it('a multipart request without a preflight header passes the router but is refused by our subgraph before the CRM', async () => {
    const response = await uploadThroughRouter(png(8, 8), { module: 'LEADS', recordId: '1000000000001' }, { authorization: 'Zoho-oauthtoken emulator-token' });
    // the router itself has no CSRF check: it forwards, and reports our subgraph's refusal as a field error
    expect(response.body.data).toBeNull();
    expect(response.body.errors).toEqual([
      expect.objectContaining({ path: ['uploadRecordPhoto'], extensions: expect.objectContaining({ code: 'CSRF_PREVENTED', serviceName: 'photos' }) }),
    ]);
    expect(photosWire.requests[0]?.headers['apollo-require-preflight']).toBeUndefined();
    expect(await stack.crm.requests()).toEqual([]);
    expect(await stack.crm.photo('Leads', '1000000000001')).toBeNull();
  });
});

describe('photos of records another subgraph lists', () => {
  const RECENT_NOTES_WITH_PHOTOS = /* GraphQL */ `
    query RecentNotesWithPhotos {
      recentNotes { text record { module id photo { version url } } }
    }
  `;

  it('resolves record { photo { url } } for a list of notes with one CRM read', async () => {
    await stack.crm.addToken('router-client-token', ['ZohoCRM.modules.ALL']);
    await uploadThroughRouter(png(8, 8), { module: 'LEADS', recordId: '1000000000002' });
    const { recordImage } = (await stack.crm.photo('Leads', '1000000000002'))!;
    const before = (await stack.crm.requests()).length;
    photosWire.requests.length = 0;

    const answer = await postJson<{ recentNotes: { text: string; record: { module: string; id: string; photo: { version: string; url: string } | null } }[] }>(
      router.url,
      RECENT_NOTES_WITH_PHOTOS,
      {},
      { authorization: CLIENT_HEADERS.authorization },
    );
    expect(answer.body.errors).toBeUndefined();
    const photo = { version: recordImage, url: `/photos/Leads/1000000000002?v=${recordImage}` };
    expect(answer.body.data?.recentNotes).toEqual(
      RECENT_NOTES.map(({ text, record }) => ({ text, record: { ...record, photo: record.id === '1000000000002' ? photo : null } })),
    );

    // the router asked our subgraph once for all the records, and our subgraph asked the CRM once for all of them
    expect(photosWire.requests.map((request) => request.method)).toEqual(['POST']);
    const reads = (await stack.crm.requests()).slice(before);
    expect(reads.map((entry) => [entry.method, entry.path, entry.authorization])).toEqual([['GET', '/crm/v7/Leads', CLIENT_HEADERS.authorization]]);
    expect(reads[0]!.query.ids!.split(',').sort()).toEqual([...new Set(RECENT_NOTES.map(({ record }) => record.id))].sort());
  });
});

describe('what the router does with the file', () => {
  it('holds the whole upload before forwarding it: behind this router, memory per upload is the file size', async () => {
    await stack.crm.addToken('router-client-token', ['ZohoCRM.modules.ALL']);
    const file = withPadding(png(64, 64), 2 * 1024 * 1024);
    const body = multipartBody([...uploadParts(), { name: '0', filename: 'held.png', contentType: 'image/png', data: file }]);
    const held = body.length - 100 * 1024;
    let subgraphSawItEarly: boolean | undefined;
    const response = await postRaw(router.url, {
      headers: { authorization: CLIENT_HEADERS.authorization, 'transfer-encoding': 'chunked' },
      write: async (request) => {
        request.write(body.subarray(0, held));
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        // Sent straight to this subgraph, the CRM would be receiving by now (test/gateway/streaming.test.ts).
        subgraphSawItEarly = photosWire.requests.length > 0 || (await stack.crm.requests()).length > 0;
        request.end(body.subarray(held));
      },
    });
    expect(subgraphSawItEarly).toBe(false);
    expect(response.json?.data?.uploadRecordPhoto.__typename).toBe('UploadRecordPhotoSuccess');
    expect((await stack.crm.photo('Leads', '1000000000001'))?.bytes.equals(Buffer.from(file))).toBe(true);
  });
});
