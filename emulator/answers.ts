/** The CRM's JSON answers: HTTP status, code and message, as its endpoint page documents them. */

export const CRM_JSON_CONTENT_TYPE = 'application/json;charset=UTF-8';

export interface CrmAnswer {
  readonly httpStatus: number;
  readonly code: string;
  readonly message: string;
  readonly status: 'error' | 'success';
}

function error(httpStatus: number, code: string, message: string): CrmAnswer {
  return { httpStatus, code, message, status: 'error' };
}

export const ANSWERS = {
  uploaded: { httpStatus: 200, code: 'SUCCESS', message: 'photo uploaded successfully', status: 'success' },
  deleted: { httpStatus: 200, code: 'SUCCESS', message: 'photo deleted', status: 'success' },
  authenticationFailure: error(401, 'AUTHENTICATION_FAILURE', 'Authentication failed'),
  invalidToken: error(401, 'INVALID_TOKEN', 'invalid oauth token'),
  invalidModule: error(400, 'INVALID_MODULE', 'the module name given seems to be invalid'),
  unsupportedModule: error(400, 'INVALID_MODULE', 'the given module is not supported in api'),
  scopeMismatch: error(401, 'OAUTH_SCOPE_MISMATCH', 'Unauthorized'),
  noPermission: error(403, 'NO_PERMISSION', 'permission denied to upload photo'),
  authorizationFailed: error(400, 'AUTHORIZATION_FAILED', 'user does not have sufficient privilege to upload photo'),
  invalidRecord: error(400, 'INVALID_DATA', 'the related id given seems to be invalid'),
  recordLocked: error(400, 'RECORD_LOCKED', 'You cannot perform this operation as the record is locked.'),
  fileMissing: error(400, 'REQUIRED_PARAM_MISSING', 'file is required'),
  fieldsMissing: error(400, 'REQUIRED_PARAM_MISSING', 'One of the expected parameter is missing'),
  tooManyIds: error(400, 'LIMIT_EXCEEDED', 'the number of ids exceeds the limit of 100'),
  notAnImage: error(400, 'INVALID_DATA', 'the file is not a supported image'),
  tooLarge: error(415, 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', 'please check if the file size is in the correct range'),
  invalidMultipart: error(400, 'INVALID_MULTIPART', 'the multipart body is malformed'),
  invalidMethod: error(400, 'INVALID_REQUEST_METHOD', 'the http request method type is not a valid one'),
  invalidUrl: error(404, 'INVALID_URL_PATTERN', 'Please check if the URL trying to access is a correct one'),
  internalError: error(500, 'INTERNAL_ERROR', 'Internal Server Error'),
  tooManyRequests: error(429, 'TOO_MANY_REQUESTS', 'too many requests'),
} as const satisfies Record<string, CrmAnswer>;

/** The JSON body the CRM sends for an answer; `details` is always an object. */
export function answerBody(answer: CrmAnswer): string {
  return JSON.stringify({ code: answer.code, details: {}, message: answer.message, status: answer.status });
}
