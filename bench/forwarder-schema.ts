/**
 * The part of the gateway's schema the bench's own Yoga forwarders serve (the Yoga floor, the buffering
 * baseline), so the load generator's mutation and answer check fit all of them.
 */
export const FORWARDER_TYPE_DEFS = /* GraphQL */ `
  scalar Upload
  enum CrmModule { LEADS CONTACTS ACCOUNTS }
  interface CrmError { code: String! message: String! }
  type CrmServiceError implements CrmError { code: String! message: String! }
  type UploadedPhoto { filename: String! byteSize: Int! }
  type UploadRecordPhotoSuccess { message: String! photo: UploadedPhoto! }
  union UploadRecordPhotoResult = UploadRecordPhotoSuccess | CrmServiceError
  type Query { health: Boolean! }
  type Mutation { uploadRecordPhoto(module: CrmModule!, recordId: ID!, file: Upload!): UploadRecordPhotoResult! }
`;

export type ForwarderResult =
  | { __typename: 'UploadRecordPhotoSuccess'; message: string; photo: { filename: string; byteSize: number } }
  | { __typename: 'CrmServiceError'; code: string; message: string };
