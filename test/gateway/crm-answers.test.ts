import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../emulator/faults.ts';
import { png, withPadding } from '../fixtures/images.ts';
import { startStack, useStack } from '../support/stack.ts';
import { resultOf, uploadPhoto } from '../support/upload-client.ts';

// Every CRM answer, and every way of not answering, becomes one typed member of the result union.

const stack = useStack({ CRM_CUSTOM_MODULES: 'Vehicles,Documents', CRM_RESPONSE_TIMEOUT_MS: '400' }, { emulatorCustomModules: [] });

const photo = png(32, 32);
const upload = (args: Partial<Parameters<typeof uploadPhoto>[1]> = {}) => uploadPhoto(stack.url, { file: photo, ...args }).then(resultOf);

describe('answers the CRM documents for this endpoint', () => {
  it('INVALID_MODULE: a module the CRM does not know', async () => {
    expect(await upload({ module: 'VEHICLES' })).toMatchObject({
      __typename: 'InvalidModuleError',
      code: 'INVALID_MODULE',
      module: 'Vehicles',
      message: 'the module name given seems to be invalid',
      resolution: expect.stringContaining('valid module API name'),
    });
  });

  it('INVALID_MODULE: a module not supported in the API', async () => {
    expect(await upload({ module: 'DOCUMENTS' })).toMatchObject({
      __typename: 'InvalidModuleError',
      code: 'INVALID_MODULE',
      module: 'Documents',
      message: expect.stringMatching(/not supported in api/i),
    });
  });

  it('INVALID_URL_PATTERN', async () => {
    await stack.crm.addFault({
      kind: 'respond',
      status: 404,
      contentType: 'application/json',
      body: JSON.stringify({ code: 'INVALID_URL_PATTERN', details: {}, message: 'Please check if the URL trying to access is a correct one', status: 'error' }),
    });
    expect(await upload()).toMatchObject({
      __typename: 'InvalidRecordError',
      code: 'INVALID_URL_PATTERN',
      recordId: '1000000000001',
      resolution: expect.any(String),
    });
  });

  it('OAUTH_SCOPE_MISMATCH names the scope the module needs', async () => {
    await stack.crm.addToken('contacts-only', ['ZohoCRM.modules.contacts.ALL']);
    expect(await upload({ authorization: 'Zoho-oauthtoken contacts-only' })).toMatchObject({
      __typename: 'PermissionDeniedError',
      code: 'OAUTH_SCOPE_MISMATCH',
      requiredScope: 'ZohoCRM.modules.leads.CREATE',
      resolution: expect.stringContaining('ZohoCRM.modules.leads.CREATE'),
    });
  });

  it('a token with the module scope is enough', async () => {
    await stack.crm.addToken('leads-create', ['ZohoCRM.modules.leads.CREATE']);
    expect(await upload({ authorization: 'Zoho-oauthtoken leads-create' })).toMatchObject({ __typename: 'UploadRecordPhotoSuccess' });
  });

  it('NO_PERMISSION', async () => {
    await stack.crm.addToken('no-permission', ['ZohoCRM.modules.ALL'], 'no-permission');
    expect(await upload({ authorization: 'Zoho-oauthtoken no-permission' })).toMatchObject({
      __typename: 'PermissionDeniedError',
      code: 'NO_PERMISSION',
      requiredScope: null,
      resolution: expect.stringContaining('administrator'),
    });
  });

  it('AUTHORIZATION_FAILED', async () => {
    await stack.crm.addToken('no-privilege', ['ZohoCRM.modules.ALL'], 'no-privilege');
    expect(await upload({ authorization: 'Zoho-oauthtoken no-privilege' })).toMatchObject({
      __typename: 'PermissionDeniedError',
      code: 'AUTHORIZATION_FAILED',
    });
  });

  it('INTERNAL_ERROR is retryable', async () => {
    await stack.crm.addFault({ kind: 'internal-error' });
    expect(await upload()).toMatchObject({
      __typename: 'CrmServiceError',
      code: 'INTERNAL_ERROR',
      crmCode: 'INTERNAL_ERROR',
      httpStatus: 500,
      retryable: true,
      resolution: expect.any(String),
    });
  });

  it('INVALID_REQUEST_METHOD', async () => {
    await stack.crm.addFault({
      kind: 'respond',
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({ code: 'INVALID_REQUEST_METHOD', details: {}, message: 'The http request method type is not a valid one', status: 'error' }),
    });
    expect(await upload()).toMatchObject({
      __typename: 'CrmServiceError',
      code: 'INVALID_REQUEST_METHOD',
      crmCode: 'INVALID_REQUEST_METHOD',
      httpStatus: 400,
      retryable: false,
    });
  });

  it('INVALID_DATA: a record that does not exist', async () => {
    expect(await upload({ recordId: '3000000038009' })).toMatchObject({
      __typename: 'InvalidRecordError',
      code: 'INVALID_DATA',
      recordId: '3000000038009',
      message: 'the related id given seems to be invalid',
    });
  });

  it('RECORD_LOCKED', async () => {
    await stack.crm.lock('Leads', '1000000000002');
    expect(await upload({ recordId: '1000000000002' })).toMatchObject({
      __typename: 'RecordLockedError',
      code: 'RECORD_LOCKED',
      recordId: '1000000000002',
      resolution: expect.stringContaining('unlocked'),
    });
  });

  it("FILE_SIZE_MORE_THAN_ALLOWED_SIZE: the CRM's own verdict", async () => {
    await stack.crm.addFault({
      kind: 'respond',
      status: 415,
      contentType: 'application/json',
      body: JSON.stringify({ code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE', details: {}, message: 'please check if the file size is in the correct range', status: 'error' }),
    });
    expect(await upload()).toMatchObject({
      __typename: 'PhotoRejectedError',
      code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
      reason: 'CRM_LIMIT',
      maxBytes: 10_485_760,
      maxPixels: 10_000_000,
    });
  });
});

describe('answers the CRM gives on any endpoint', () => {
  it('INVALID_TOKEN', async () => {
    expect(await upload({ authorization: 'Zoho-oauthtoken 1000.expired' })).toMatchObject({
      __typename: 'AuthenticationError',
      code: 'INVALID_TOKEN',
      message: 'invalid oauth token',
      resolution: expect.stringContaining('access token'),
    });
  });

  it('AUTHENTICATION_FAILURE', async () => {
    await stack.crm.addFault({ kind: 'early-reject', status: 401, code: 'AUTHENTICATION_FAILURE', message: 'Authentication failed' });
    expect(await upload()).toMatchObject({ __typename: 'AuthenticationError', code: 'AUTHENTICATION_FAILURE' });
  });

  it('TOO_MANY_REQUESTS with Retry-After', async () => {
    await stack.crm.addFault({ kind: 'rate-limit', retryAfter: '17' });
    expect(await upload()).toMatchObject({ __typename: 'RateLimitedError', code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 17 });
  });
});

describe('answers nobody documented', () => {
  const unexpected = async (fault: FaultSpec, expected: Record<string, unknown>) => {
    await stack.crm.addFault(fault);
    expect(await upload()).toMatchObject({ __typename: 'CrmServiceError', code: 'UNEXPECTED_RESPONSE', ...expected });
  };

  it('an unknown code is kept verbatim', () =>
    unexpected(
      {
        kind: 'respond',
        status: 400,
        contentType: 'application/json',
        body: JSON.stringify({ code: 'SHINY_NEW_CODE', details: {}, message: 'something new', status: 'error' }),
      },
      { crmCode: 'SHINY_NEW_CODE', httpStatus: 400, retryable: false, message: expect.stringContaining('SHINY_NEW_CODE') },
    ));

  it('an HTML error page', () => unexpected({ kind: 'html', status: 502 }, { crmCode: null, httpStatus: 502, retryable: true }));

  it('an empty body', () => unexpected({ kind: 'empty-body', status: 200 }, { crmCode: null, httpStatus: 200, retryable: false }));
});

describe('no answer at all', () => {
  it('a CRM that hangs gives CRM_TIMEOUT within the response timeout', async () => {
    await stack.crm.addFault({ kind: 'hang' });
    const started = performance.now();
    const result = await upload();
    expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'CRM_TIMEOUT', retryable: true, httpStatus: null });
    expect(performance.now() - started).toBeLessThan(5_000);
    // the gateway gave up on the request: the emulator sees the connection go
    await stack.crm.waitFor((log) => log.at(-1)?.state === 'aborted');
  });

  it('a refused connection gives CRM_UNREACHABLE', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const offline = await startStack({ ZOHO_API_DOMAIN: `http://127.0.0.1:${closed}` });
    try {
      const result = resultOf(await uploadPhoto(offline.url, { file: photo }));
      expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'CRM_UNREACHABLE', retryable: true, httpStatus: null });
    } finally {
      await offline.close();
    }
  });

  it('a CRM that never completes the connection gives CRM_TIMEOUT within CRM_CONNECT_TIMEOUT_MS', async () => {
    // a peer that listens but never accepts: once its backlog is full, new connections hang in SYN
    const peer = spawn('python3', ['-c', 'import socket,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)']);
    const port = Number((await once(peer.stdout, 'data'))[0].toString().trim());
    const fillers = Array.from({ length: 4 }, () => createConnection(port, '127.0.0.1').on('error', () => {}));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const unaccepted = await startStack({ ZOHO_API_DOMAIN: `http://127.0.0.1:${port}`, CRM_CONNECT_TIMEOUT_MS: '500' });
    try {
      const started = performance.now();
      const result = resultOf(await uploadPhoto(unaccepted.url, { file: photo }));
      expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'CRM_TIMEOUT', retryable: true });
      expect(performance.now() - started).toBeLessThan(4_000);
    } finally {
      await unaccepted.close();
      for (const socket of fillers) socket.destroy();
      peer.kill();
    }
  });

  it('a reset in the middle of the body gives a CrmServiceError', async () => {
    await stack.crm.addFault({ kind: 'reset-mid-body', afterBytes: 64 * 1024 });
    const result = await upload({ file: withPadding(png(100, 100), 2_000_000) });
    expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'CRM_UNREACHABLE', retryable: true });
  });
});

describe('a CRM that answers before reading the body', () => {
  const big = withPadding(png(200, 200), 8_000_000);

  it('still yields the mapped member, and the gateway stops sending', async () => {
    await stack.crm.addFault({ kind: 'early-reject', status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token' });
    expect(await upload({ file: big })).toMatchObject({ __typename: 'AuthenticationError', code: 'INVALID_TOKEN' });
    const [request] = await stack.crm.requests();
    expect(request?.status).toBe(401);
    expect(request?.bytesReceived).toBeLessThan(big.length);
  });

  it('and drops the connection at once: a typed CrmServiceError or the mapped member, never a GraphQL error', async () => {
    await stack.crm.addFault({ kind: 'early-reject', status: 500, code: 'INTERNAL_ERROR', message: 'Internal Server Error', close: true });
    const result = await upload({ file: big });
    expect(result.__typename).toBe('CrmServiceError');
    // Whether the gateway reads the 500 before its next write fails on the closed socket is a socket race.
    expect(['INTERNAL_ERROR', 'CRM_UNREACHABLE']).toContain(result.code);
    // and the gateway goes on serving
    expect(await upload()).toMatchObject({ __typename: 'UploadRecordPhotoSuccess' });
  });
});

describe('a CRM whose answer misbehaves after its headers', () => {
  /** Fails fast rather than wait for a test timeout when the gateway never gives up. */
  const within = <T>(ms: number, promise: Promise<T>) =>
    Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);

  it('an answer dribbled out a byte at a time gives CRM_TIMEOUT once CRM_RESPONSE_TIMEOUT_MS has passed', async () => {
    // A byte every 100 ms: never quiet for the 400 ms response timeout, and the answer would take nine seconds.
    await stack.crm.addFault({ kind: 'trickle-answer', intervalMs: 100 });
    const started = performance.now();
    const result = await within(5_000, upload());
    expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'CRM_TIMEOUT', retryable: true });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('an endless answer is cut after 1 MiB and reported as UNEXPECTED_RESPONSE', async () => {
    await stack.crm.addFault({ kind: 'endless-answer' });
    const started = performance.now();
    const result = await within(5_000, upload());
    expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'UNEXPECTED_RESPONSE', httpStatus: 200, retryable: true });
    expect(result.message).toMatch(/more than 1048576 bytes/);
    expect(performance.now() - started).toBeLessThan(2_000);
    // and the gateway goes on serving
    expect(await upload()).toMatchObject({ __typename: 'UploadRecordPhotoSuccess' });
  });
});

describe('a success the CRM announced before it had the whole file', () => {
  const big = withPadding(png(200, 200), 5_243_037);

  it('SUCCESS before the body, then a dropped connection: a retryable UNEXPECTED_RESPONSE, never success', async () => {
    await stack.crm.addFault({ kind: 'early-reject', status: 200, code: 'SUCCESS', close: true });
    const result = await upload({ file: big });
    // The reset can also reach the gateway before the answer it follows: then no answer came at all.
    expect(result).toMatchObject({ __typename: 'CrmServiceError', retryable: true });
    if (result.code !== 'CRM_UNREACHABLE') expect(result).toMatchObject({ code: 'UNEXPECTED_RESPONSE', httpStatus: 200 });
    const [request] = await stack.crm.requests();
    expect(request?.bytesReceived).toBeLessThan(big.length);
  });

  it('SUCCESS before the body on a connection left open: the same, since the rest never goes out', async () => {
    await stack.crm.addFault({ kind: 'early-reject', status: 200, code: 'SUCCESS' });
    const result = await upload({ file: big });
    expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'UNEXPECTED_RESPONSE', retryable: true });
  });

  it('a SUCCESS after the whole body is still a success, large file or small', async () => {
    expect(await upload({ file: big })).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: big.length } });
    expect(await upload()).toMatchObject({ __typename: 'UploadRecordPhotoSuccess', photo: { byteSize: photo.length } });
  });
});

describe('the credential the gateway sent never comes back in the CRM words', () => {
  it("a CRM that echoes the Authorization header has the caller's token masked", async () => {
    await stack.crm.addToken('1000.pass-through-token-abcdef', ['ZohoCRM.modules.ALL']);
    await stack.crm.addFault({ kind: 'echo-authorization', status: 500, code: 'SOMETHING_NEW' });
    const result = await upload({ authorization: 'Bearer 1000.pass-through-token-abcdef' });
    expect(result).toMatchObject({ __typename: 'CrmServiceError', code: 'UNEXPECTED_RESPONSE', crmCode: 'SOMETHING_NEW' });
    expect(result.message).toContain('[redacted]');
    expect(JSON.stringify(result)).not.toContain('pass-through-token-abcdef');
  });
});
