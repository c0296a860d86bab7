import { expect, it } from 'vitest';
import { png } from '../fixtures/images.ts';
import { useStack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

const stack = useStack({}, { resetEachTest: false });

it('uploads a PNG', async () => {
  const file = png(64, 48);
  const result = resultOf(await uploadPhoto(stack.url, { file, filename: 'me.png' }));
  expect(result).toMatchObject({ __typename: 'UploadRecordPhotoSuccess' });
  expect((await stack.crm.photo('Leads', '1000000000001'))?.bytes.equals(Buffer.from(file))).toBe(true);
});
