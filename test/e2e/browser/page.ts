// The test web app: what a frontend does with Apollo Client and UploadHttpLink, bundled by esbuild at test time.
import { CrmRecordPhotoDocument, UploadRecordPhotoDocument, type CrmModule, type UploadRecordPhotoMutation } from '../generated/graphql.ts';
import { createPhotoClient } from '../support/apollo-client.ts';

const params = new URLSearchParams(location.search);
const token = params.get('token');
// Service mode: the gateway's API key, as Authorization: Bearer (the gateway holds the CRM token).
const apiKey = params.get('apiKey');
const gateway = params.get('gateway') ?? '/graphql';
const client = createPhotoClient({
  uri: gateway,
  authorization: token ? `Zoho-oauthtoken ${token}` : apiKey ? `Bearer ${apiKey}` : null,
});

const form = document.querySelector<HTMLFormElement>('#upload')!;
const output = document.querySelector<HTMLOutputElement>('#result')!;
const image = document.querySelector<HTMLImageElement>('#photo')!;

/**
 * Shows the record's photo as a view of it would: from Apollo's cache, which the upload's `record { photo }` filled,
 * in a plain <img>, which sends no header (in service mode the url is a signed link that needs none).
 */
async function showPhoto(module: CrmModule, id: string): Promise<void> {
  const { data } = await client.query({ query: CrmRecordPhotoDocument, variables: { module, id }, fetchPolicy: 'cache-only' });
  const photo = data?.crmRecord?.photo;
  if (!photo) return;
  image.dataset['state'] = 'loading';
  image.onload = () => (image.dataset['state'] = 'loaded');
  image.onerror = () => (image.dataset['state'] = 'failed');
  image.src = new URL(photo.url, gateway).href;
  image.hidden = false;
}

/** One line per outcome; the switch is exhaustive, so a new union member fails the type check. */
function describe(result: UploadRecordPhotoMutation['uploadRecordPhoto']): string {
  switch (result.__typename) {
    case 'UploadRecordPhotoSuccess':
      return `${result.__typename} ${result.photo.width}×${result.photo.height} ${result.photo.format} ${result.photo.byteSize} bytes`;
    case 'AuthenticationError':
    case 'PermissionDeniedError':
    case 'InvalidModuleError':
    case 'InvalidRecordError':
    case 'RecordLockedError':
    case 'PhotoRejectedError':
    case 'RateLimitedError':
    case 'CrmServiceError':
      return `${result.__typename} ${result.code}`;
    default: {
      const unreachable: never = result;
      return unreachable;
    }
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const fields = new FormData(form);
  output.dataset['state'] = 'busy';
  output.textContent = '';
  try {
    const { data } = await client.mutate({
      mutation: UploadRecordPhotoDocument,
      variables: {
        module: fields.get('module') as CrmModule,
        recordId: String(fields.get('recordId')),
        file: fields.get('photo') as File,
      },
    });
    output.textContent = data ? describe(data.uploadRecordPhoto) : 'no data';
    output.dataset['state'] = 'done';
    if (data?.uploadRecordPhoto.__typename === 'UploadRecordPhotoSuccess') {
      const { record } = data.uploadRecordPhoto;
      await showPhoto(record.module, record.id);
    }
  } catch (error) {
    output.textContent = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    output.dataset['state'] = 'failed';
  }
});
output.dataset['state'] = 'ready';
