/**
 * `GET /photos/{module API name}/{record id}[?v={version}[&exp=…&sig=…]]`: a record's photo, streamed from the CRM as
 * it arrives. A small Yoga plugin that answers before GraphQL is involved and hands the work to the download use case.
 */
import type { Plugin } from 'graphql-yoga';
import type { CrmModule } from '../crm/modules.ts';
import { DownloadCancelledError, type PhotoDownloadService } from '../photos/download-record-photo.ts';
import type { DownloadObserver } from '../photos/download-report.ts';
import { unknownModule, type CrmFailure, type PhotoAbsence } from '../photos/failures.ts';
import type { ImageFormat } from '../photos/image-sniffer.ts';
import type { PhotoLinkSigner } from '../photos/photo-links.ts';
import { apiKeyCheck, apiKeyRequiredMessage } from './api-keys.ts';
import type { NodeServerContext } from './multipart-request.ts';
import { DownloadStalledError, PhotoSourceError } from '../photos/photo-download-stream.ts';
import { requestIdOf } from './request-id.ts';

export const PHOTO_ROUTE_PREFIX = '/photos/';
const PHOTO_PATH = /^\/photos\/([^/]+)\/([^/]+)$/;

/** A `?v=` URL names one version of the photo, whose bytes never change. */
export const VERSIONED_CACHE_CONTROL = 'private, max-age=31536000, immutable';
const MAX_AGE_SECONDS = 31_536_000;

export interface PhotoDownloadRouteOptions {
  modules: readonly CrmModule[];
  downloads: PhotoDownloadService;
  /** GATEWAY_API_KEYS; empty: no key needed. */
  apiKeys: readonly string[];
  /** Service mode: `Authorization: Bearer <key>` also carries an API key, and the gateway's own token fetches the photo. */
  serviceMode: boolean;
  /** Set in service mode with PHOTO_URL_SECRET: a valid signed link stands in for the API key. */
  signer: PhotoLinkSigner | null;
  /** Who is calling, for its share of the CRM slots (a signed link's caller is its address). */
  callerOf?: (request: Request, address: string | undefined) => string;
  /** Told once per download when it ends (logs). */
  observer?: DownloadObserver;
}

/** What the route learns about one download on its way, for its report. */
interface Track {
  moduleApiName: string | null;
  recordId: string | null;
  crmStatus: number | null;
  crmFailed: boolean;
  body: { stream: import('node:stream').Readable; bytesForwarded(): number } | null;
}

/** The code of each refusal the route answers with, for the report. */
const refusalCodes = new WeakMap<Response, string>();

/** A refusal's JSON body: a CrmErrorCode (or a request-error code), what happened, and what to do about it. */
interface ErrorBody {
  code: string;
  message: string;
  resolution?: string | null;
  retryAfterSeconds?: number | null;
}

type ResponseConstructor = typeof Response;

function json(status: number, body: ErrorBody, headers: Record<string, string> = {}): Response {
  const response = new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
  refusalCodes.set(response, body.code);
  return response;
}

/** The HTTP status for each failure family of the result unions, and for a missing photo. */
export function httpStatusFor(failure: CrmFailure): number {
  switch (failure.kind) {
    case 'invalid-module':
      return 404;
    case 'invalid-record':
      return failure.code === 'INVALID_RECORD_ID' ? 400 : 404;
    case 'record-locked':
      return 409;
    case 'authentication':
      return 401;
    case 'permission-denied':
      return 403;
    case 'rate-limited':
      return 429;
    case 'crm-service':
      return failure.code === 'CRM_TIMEOUT' ? 504 : 502;
    case 'photo-rejected':
      // The CRM judged bytes we never sent it: its answer makes no sense for a download.
      return 502;
  }
}

function failureResponse(failure: CrmFailure): Response {
  const headers: Record<string, string> = {};
  const body: ErrorBody = { code: failure.code, message: failure.message, resolution: failure.resolution };
  if (failure.kind === 'rate-limited' && failure.retryAfterSeconds !== null) {
    headers['retry-after'] = String(failure.retryAfterSeconds);
    body.retryAfterSeconds = failure.retryAfterSeconds;
  }
  if (failure.kind === 'authentication') headers['www-authenticate'] = 'Bearer';
  return json(httpStatusFor(failure), body, headers);
}

function absenceResponse(absence: PhotoAbsence): Response {
  return json(404, { code: absence.code, message: absence.message, resolution: absence.resolution });
}

const EXTENSIONS: Record<ImageFormat, string> = { PNG: 'png', JPEG: 'jpg', GIF: 'gif', BMP: 'bmp' };

function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * Credentials as for GraphQL: the caller's own `Authorization` (pass-through), or an API key (service mode, and
 * whenever GATEWAY_API_KEYS is set). No CSRF header is asked for: a download changes nothing, and a page on another
 * site can send neither `Authorization` nor `x-api-key` without a CORS preflight, which only CORS_ORIGINS pass. An
 * `<img>` can send no header at all: in service mode a signed link carries the permission in its URL instead.
 */
export function usePhotoDownloads(options: PhotoDownloadRouteOptions): Plugin<Record<string, unknown>, NodeServerContext> {
  const hasValidKey = options.apiKeys.length > 0 ? apiKeyCheck(options.apiKeys, { bearer: options.serviceMode }) : null;
  const modules = new Map(options.modules.map((module) => [module.apiName, module]));

  async function answer(
    request: Request,
    url: URL,
    serverContext: NodeServerContext,
    fetchAPI: { Response: ResponseConstructor },
    track: Track,
  ): Promise<Response> {
    const match = PHOTO_PATH.exec(url.pathname);
    const moduleName = match ? decodeSegment(match[1]!) : null;
    const recordId = match ? decodeSegment(match[2]!) : null;
    track.moduleApiName = moduleName;
    track.recordId = recordId;
    if (moduleName === null || recordId === null) {
      return json(404, {
        code: 'INVALID_URL_PATTERN',
        message: 'A photo URL is /photos/{module API name}/{record ID}, e.g. /photos/Leads/3000000038009.',
      });
    }
    if (request.method !== 'GET') {
      return json(405, { code: 'METHOD_NOT_ALLOWED', message: `A photo is read with GET, not ${request.method.slice(0, 16)}.` }, { allow: 'GET' });
    }

    const version = url.searchParams.get('v') || null;
    let cacheControl = version === null ? 'no-cache' : VERSIONED_CACHE_CONTROL;
    if (hasValidKey !== null && !hasValidKey(request)) {
      // Without a key, only a signed link will do; its signature is checked before anything else about it.
      const { signer } = options;
      if (signer === null || !url.searchParams.has('sig')) {
        return json(401, { code: 'UNAUTHENTICATED', message: apiKeyRequiredMessage({ bearer: options.serviceMode }) }, { 'www-authenticate': 'Bearer' });
      }
      const exp = url.searchParams.get('exp');
      const check = signer.check({ moduleApiName: moduleName, recordId, version: version ?? '' }, exp, url.searchParams.get('sig'));
      if (check === 'invalid' || version === null) {
        return json(403, {
          code: 'PHOTO_LINK_INVALID',
          message: 'The signature of this photo link does not match it: the link was changed, or is for another photo.',
          resolution: 'Ask the gateway for the photo again (RecordPhoto.url) and use the link as given.',
        });
      }
      if (check === 'expired') {
        return json(403, {
          code: 'PHOTO_LINK_EXPIRED',
          message: 'This photo link has expired.',
          resolution: 'Ask the gateway for the photo again (RecordPhoto.url): it gives a fresh link.',
        });
      }
      cacheControl = `private, max-age=${Math.min(MAX_AGE_SECONDS, signer.secondsLeft(Number(exp)))}, immutable`;
    }

    const module = modules.get(moduleName);
    if (module === undefined) return failureResponse(unknownModule(moduleName));
    let outcome;
    try {
      outcome = await options.downloads.download({
        moduleApiName: module.apiName,
        recordId,
        callerAuthorization: request.headers.get('authorization'),
        signal: request.signal,
        ...(options.callerOf ? { caller: options.callerOf(request, serverContext.req?.socket.remoteAddress) } : {}),
      });
    } catch (error) {
      // Nobody is left to answer; the status is for the logs.
      if (error instanceof DownloadCancelledError) return new fetchAPI.Response(null, { status: 499 });
      throw error;
    }
    track.crmStatus = outcome.crmStatus ?? null;
    if (!outcome.ok) {
      if ('failure' in outcome) {
        track.crmFailed = outcome.failure.kind === 'crm-service';
        return failureResponse(outcome.failure);
      }
      return absenceResponse(outcome.absence);
    }
    track.body = { stream: outcome.photo.body, bytesForwarded: outcome.photo.bytesForwarded };

    const { image, byteSize, body } = outcome.photo;
    // The body fails when the CRM breaks off or the client stops reading: cut the connection, so the client sees a
    // truncated download rather than waiting on one that will never end.
    body.once('error', () => serverContext.res?.destroy());
    const headers: Record<string, string> = {
      'content-type': image.mimeType,
      'cache-control': cacheControl,
      'x-content-type-options': 'nosniff',
      'content-disposition': `inline; filename="${module.apiName}-${recordId}.${EXTENSIONS[image.format]}"`,
    };
    if (byteSize !== null) headers['content-length'] = String(byteSize);
    // Yoga's Response takes a Node stream as its body and pipes it to the socket, destroying it if the client leaves.
    return new fetchAPI.Response(body as unknown as BodyInit, { status: 200, headers });
  }

  return {
    async onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(PHOTO_ROUTE_PREFIX)) return;
      const started = performance.now();
      const track: Track = { moduleApiName: null, recordId: null, crmStatus: null, crmFailed: false, body: null };
      const response = await answer(request, url, serverContext, fetchAPI, track);
      endResponse(response);
      const { observer } = options;
      if (!observer) return;
      const report = (outcome: string, bytesSent: number, crmFailed: boolean) =>
        observer.downloadEnded({
          requestId: requestIdOf(request),
          moduleApiName: track.moduleApiName,
          recordId: track.recordId,
          outcome,
          httpStatus: response.status,
          bytesSent,
          crmStatus: track.crmStatus,
          crmFailed,
          totalMs: performance.now() - started,
        });
      const { body } = track;
      const res = serverContext.res;
      if (body === null || res === undefined) {
        return report(refusalCodes.get(response) ?? (response.status === 499 ? 'CLIENT_GONE' : 'downloaded'), 0, track.crmFailed);
      }
      // A photo under way: it ends when the connection is done with it, whole or cut.
      let failure: unknown;
      body.stream.once('error', (error) => (failure ??= error));
      res.once('close', () => {
        if (res.writableFinished) return report('downloaded', body.bytesForwarded(), false);
        if (failure instanceof DownloadStalledError) return report('DOWNLOAD_TIMEOUT', body.bytesForwarded(), false);
        if (failure instanceof PhotoSourceError) return report('CRM_CONNECTION_LOST', body.bytesForwarded(), true);
        return report('CLIENT_GONE', body.bytesForwarded(), false);
      });
    },
  };
}
