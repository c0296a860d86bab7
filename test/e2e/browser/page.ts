// The test web app: what a frontend does with Apollo Client and UploadHttpLink, bundled by esbuild at test time.
import { UploadRecordPhotoDocument, type CrmModule, type UploadRecordPhotoMutation } from '../generated/graphql.ts';
import { createPhotoClient } from '../support/apollo-client.ts';

const params = new URLSearchParams(location.search);
const token = params.get('token');
const client = createPhotoClient({
  uri: params.get('gateway') ?? '/graphql',
  authorization: token ? `Zoho-oauthtoken ${token}` : null,
});

const form = document.querySelector<HTMLFormElement>('#upload')!;
const output = document.querySelector<HTMLOutputElement>('#result')!;

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
  } catch (error) {
    output.textContent = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    output.dataset['state'] = 'failed';
  }
});
output.dataset['state'] = 'ready';
