import type { CrmErrorCode } from './failures.ts';

/** What a caller can do about each code: the CRM's documented resolutions, and the gateway's own. */
export function resolutionFor(code: CrmErrorCode, moduleApiName: string): string {
  switch (code) {
    case 'INVALID_MODULE':
      return 'Specify a valid module API name: Leads, Contacts, Accounts, Products, Deals, Vendors or a custom module. Modules such as Documents and Projects are not supported in the API.';
    case 'INVALID_URL_PATTERN':
      return 'The request URL is incorrect: check the module and record ID.';
    case 'OAUTH_SCOPE_MISMATCH':
      return `The client does not have the ${requiredScopeFor(moduleApiName)} scope. Create a new client with a valid scope (ZohoCRM.modules.ALL, or ZohoCRM.modules.{module}.ALL, WRITE or CREATE).`;
    case 'NO_PERMISSION':
    case 'AUTHORIZATION_FAILED':
      return 'The user does not have the permission to upload a photo. Contact your system administrator.';
    case 'INTERNAL_ERROR':
      return 'Unexpected and unhandled exception in the CRM. Try again later; if it persists, contact the CRM support team.';
    case 'INVALID_REQUEST_METHOD':
      return 'The CRM refused the HTTP method used for this URL. Contact the gateway maintainers.';
    case 'INVALID_DATA':
      return 'The record ID is invalid: use the ID of an existing record of this module.';
    case 'RECORD_LOCKED':
      return 'Please wait until the record is unlocked, then try again.';
    case 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE':
      return 'The photo exceeds the allowed size (10 MB) or the allowed resolution (10 MP). Upload a photo within both limits.';
    case 'INVALID_TOKEN':
      return 'The access token is invalid or has expired. Obtain a new access token and try again.';
    case 'AUTHENTICATION_FAILURE':
      return 'Authentication failed. Send a valid access token in the Authorization header.';
    case 'TOO_MANY_REQUESTS':
      return 'Too many requests to the CRM. Wait retryAfterSeconds (when given) before trying again.';
    case 'MISSING_CREDENTIALS':
      return 'Send the header "Authorization: Zoho-oauthtoken <access token>" (or "Bearer <access token>").';
    case 'INVALID_RECORD_ID':
      return 'A record ID is 1 to 19 decimal digits, e.g. 3000000038009.';
    case 'UNSUPPORTED_IMAGE_FORMAT':
      return 'Upload a PNG, JPEG, GIF or BMP image.';
    case 'EMPTY_FILE':
      return 'The file is empty. Choose an image file and upload it again.';
    case 'CRM_TIMEOUT':
      return 'The CRM did not answer in time. Try again later.';
    case 'CRM_UNREACHABLE':
      return 'The gateway could not reach the CRM. Try again later.';
    case 'UNEXPECTED_RESPONSE':
      return 'The CRM gave an answer the gateway does not understand. Try again later; if it persists, contact the gateway maintainers.';
  }
}

/** The scope the CRM wants for uploading a photo to a module's records. */
export function requiredScopeFor(moduleApiName: string): string {
  return `ZohoCRM.modules.${moduleApiName.toLowerCase()}.CREATE`;
}
