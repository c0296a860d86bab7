import { describe, expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { useStack } from '../support/stack.ts';
import { CrmRecordPhotoDocument, DeleteRecordPhotoDocument, UploadRecordPhotoDocument } from './generated/graphql.ts';
import { createPhotoClient } from './support/apollo-client.ts';

// Apollo Client 4 and the typed documents: after an upload or a delete, the cache already knows the record's photo.

const stack = useStack();
const AUTHORIZATION = 'Zoho-oauthtoken emulator-token';

/** fetch that counts the requests the link makes. */
function countingFetch(counter: { requests: number }): typeof fetch {
  return (input, init) => {
    counter.requests++;
    return fetch(input, init);
  };
}

describe('Apollo Client and record photos', () => {
  it("shows a photo after an upload from the cache, updated by the mutation's record { photo { version url } }", async () => {
    const counter = { requests: 0 };
    const client = createPhotoClient({ uri: stack.url, authorization: AUTHORIZATION, fetch: countingFetch(counter) });
    const bytes = png(320, 240);
    const { data } = await client.mutate({
      mutation: UploadRecordPhotoDocument,
      variables: { module: 'LEADS', recordId: '1000000000004', file: new File([bytes], 'shop.png', { type: 'image/png' }) },
    });
    if (data?.uploadRecordPhoto.__typename !== 'UploadRecordPhotoSuccess') throw new Error(JSON.stringify(data));
    const uploaded = data.uploadRecordPhoto.record.photo;
    expect(uploaded).toMatchObject({ version: expect.stringMatching(/^[0-9a-f]+$/), url: `/photos/Leads/1000000000004?v=${uploaded?.version}` });

    // A view of the record reads the cache: no request, and the photo is there.
    const view = await client.query({ query: CrmRecordPhotoDocument, variables: { module: 'LEADS', id: '1000000000004' }, fetchPolicy: 'cache-only' });
    expect(view.data?.crmRecord?.photo).toEqual(uploaded);
    expect(counter.requests).toBe(1);

    // The url serves the bytes uploaded, with the headers the client already sends.
    const image = await fetch(new URL(uploaded!.url, stack.url), { headers: { authorization: AUTHORIZATION } });
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);

    // The network agrees with the cache.
    const fresh = await client.query({ query: CrmRecordPhotoDocument, variables: { module: 'LEADS', id: '1000000000004' }, fetchPolicy: 'network-only' });
    expect(fresh.data?.crmRecord?.photo).toEqual(uploaded);
  });

  it('a new upload gives a new version and url, and the cache follows', async () => {
    const client = createPhotoClient({ uri: stack.url, authorization: AUTHORIZATION });
    const upload = async () => {
      const { data } = await client.mutate({
        mutation: UploadRecordPhotoDocument,
        variables: { module: 'DEALS', recordId: '1000000000002', file: new File([png(4, 4)], 'a.png', { type: 'image/png' }) },
      });
      if (data?.uploadRecordPhoto.__typename !== 'UploadRecordPhotoSuccess') throw new Error(JSON.stringify(data));
      return data.uploadRecordPhoto.record.photo!;
    };
    const first = await upload();
    const second = await upload();
    expect(second.version).not.toBe(first.version);
    expect(second.url).not.toBe(first.url);
    const view = await client.query({ query: CrmRecordPhotoDocument, variables: { module: 'DEALS', id: '1000000000002' }, fetchPolicy: 'cache-only' });
    expect(view.data?.crmRecord?.photo?.version).toBe(second.version);
  });

  it('deleteRecordPhoto leaves the cached record with photo null', async () => {
    const client = createPhotoClient({ uri: stack.url, authorization: AUTHORIZATION });
    await client.mutate({
      mutation: UploadRecordPhotoDocument,
      variables: { module: 'LEADS', recordId: '1000000000006', file: new File([png(4, 4)], 'a.png', { type: 'image/png' }) },
    });
    const { data } = await client.mutate({ mutation: DeleteRecordPhotoDocument, variables: { module: 'LEADS', recordId: '1000000000006' } });
    expect(data?.deleteRecordPhoto).toMatchObject({
      __typename: 'DeleteRecordPhotoSuccess',
      message: 'photo deleted',
      record: { module: 'LEADS', id: '1000000000006', photo: null },
    });
    const view = await client.query({ query: CrmRecordPhotoDocument, variables: { module: 'LEADS', id: '1000000000006' }, fetchPolicy: 'cache-only' });
    expect(view.data?.crmRecord?.photo).toBeNull();
  });

  it('a refused delete is a typed member, narrowed on __typename', async () => {
    const client = createPhotoClient({ uri: stack.url, authorization: null });
    const { data } = await client.mutate({ mutation: DeleteRecordPhotoDocument, variables: { module: 'LEADS', recordId: '1000000000006' } });
    const result = data!.deleteRecordPhoto;
    if (result.__typename !== 'AuthenticationError') throw new Error(JSON.stringify(result));
    expect(result.code).toBe('MISSING_CREDENTIALS');
  });
});
