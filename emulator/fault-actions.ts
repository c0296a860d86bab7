/** What each injected fault does to the request it caught. */
import { STATUS_CODES } from 'node:http';
import { ACCOUNTS_REFUSALS } from './accounts.ts';
import { ANSWERS, answerBody, CRM_JSON_CONTENT_TYPE, type CrmAnswer } from './answers.ts';
import type { Exchange } from './exchange.ts';
import type { Fault } from './faults.ts';

const DEFAULT_RESET_AFTER_BYTES = 1024;
const DEFAULT_RETRY_AFTER = '30';

/**
 * Applies a fault; returns true when it took over the exchange, false when normal handling continues.
 * On the token endpoint (`server` 'accounts') internal-error and rate-limit answer in the accounts server's
 * JSON shape; every other kind behaves the same on both.
 */
export function applyFault(ex: Exchange, fault: Fault, server: 'crm' | 'accounts' = 'crm'): boolean {
  ex.delay(fault.delayMs ?? 0);
  switch (fault.kind) {
    case 'latency':
      return false;
    case 'throttle':
      ex.throttle(fault.chunkBytes ?? DEFAULT_THROTTLE_CHUNK_BYTES, fault.intervalMs ?? DEFAULT_THROTTLE_INTERVAL_MS);
      return false;
    case 'internal-error':
      if (server === 'accounts') {
        const body = { error: 'internal_error', error_description: fault.message ?? 'Internal Server Error', status: 'failure' };
        ex.drainThen(() => answerAccountsJson(ex, 500, body));
      } else {
        ex.drainThen(() => ex.answerCrm(withMessage(ANSWERS.internalError, fault.message)));
      }
      return true;
    case 'rate-limit':
      if (server === 'accounts') {
        const { httpStatus, body } = ACCOUNTS_REFUSALS.rate_limited;
        const described = fault.message === undefined ? body : { ...body, error_description: fault.message };
        ex.drainThen(() => answerAccountsJson(ex, httpStatus, described));
        return true;
      }
      ex.drainThen(() =>
        ex.answerCrm(withMessage(ANSWERS.tooManyRequests, fault.message), {
          headers: { 'retry-after': fault.retryAfter ?? DEFAULT_RETRY_AFTER },
        }),
      );
      return true;
    case 'hang':
      ex.consume();
      return true;
    case 'reset-mid-body':
      resetAfter(ex, fault.afterBytes ?? DEFAULT_RESET_AFTER_BYTES);
      return true;
    case 'html': {
      const status = fault.status ?? 502;
      ex.drainThen(() =>
        ex.answer(status, fault.body ?? htmlErrorPage(status), null, {
          headers: { 'content-type': 'text/html; charset=utf-8' },
        }),
      );
      return true;
    }
    case 'empty-body':
      ex.drainThen(() =>
        ex.answer(fault.status ?? 200, '', null, {
          headers: { 'content-type': fault.contentType ?? CRM_JSON_CONTENT_TYPE },
        }),
      );
      return true;
    case 'early-reject':
      // Answer on the headers alone; the body is then read and discarded only so its size is logged.
      ex.answerCrm(earlyRejection(fault), { closeAfter: fault.close === true });
      ex.consume();
      return true;
    case 'trickle-answer':
      ex.drainThen(() => trickle(ex, fault));
      return true;
    case 'endless-answer':
      ex.drainThen(() => endless(ex, fault));
      return true;
    case 'echo-authorization':
      ex.drainThen(() => ex.answerCrm(echoAuthorization(ex, fault)));
      return true;
    case 'respond': {
      const body = fault.body ?? '';
      ex.drainThen(() =>
        ex.answer(fault.status ?? 200, body, codeIn(body), {
          headers: { 'content-type': fault.contentType ?? CRM_JSON_CONTENT_TYPE },
        }),
      );
      return true;
    }
  }
}

const DEFAULT_TRICKLE_INTERVAL_MS = 1000;
const DEFAULT_THROTTLE_CHUNK_BYTES = 16 * 1024;
const DEFAULT_THROTTLE_INTERVAL_MS = 100;

/** The headers at once, then the body one byte at a time: a CRM (or a proxy) that dribbles its answer out. */
function trickle(ex: Exchange, fault: Fault): void {
  const body = Buffer.from(fault.body ?? answerBody(ANSWERS.uploaded), 'utf8');
  ex.answerStreaming(fault.status ?? 200, codeIn(body.toString('utf8')), { 'content-type': fault.contentType ?? CRM_JSON_CONTENT_TYPE }, (res) => {
    let sent = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      if (sent >= body.length) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(body.subarray(sent, ++sent));
    }, fault.intervalMs ?? DEFAULT_TRICKLE_INTERVAL_MS);
    ex.onCleanup(() => clearInterval(timer));
  });
}

const FILLER = Buffer.alloc(64 * 1024, 0x20);

/** A body that never ends: a JSON-looking start, then blank space for as long as the client reads. */
function endless(ex: Exchange, fault: Fault): void {
  ex.answerStreaming(fault.status ?? 200, null, { 'content-type': fault.contentType ?? CRM_JSON_CONTENT_TYPE }, (res) => {
    const pump = (): void => {
      // Write until the socket's buffer is full, then wait for the client to read some.
      while (!res.destroyed && res.write(FILLER));
    };
    res.write('{"code":"SUCCESS","details":{},"message":"');
    res.on('drain', pump);
    pump();
  });
}

/** A CRM error whose message carries the request's Authorization header as it came: what a careless echo leaks. */
function echoAuthorization(ex: Exchange, fault: Fault): CrmAnswer {
  const authorization = ex.req.headers.authorization ?? '';
  const code = fault.code ?? ANSWERS.invalidRecord.code;
  return {
    httpStatus: fault.status ?? 400,
    code,
    message: `${fault.message ?? 'the request could not be processed; it was sent with Authorization:'} ${authorization}`,
    status: 'error',
  };
}

function answerAccountsJson(ex: Exchange, status: number, body: Record<string, string>): void {
  ex.answer(status, JSON.stringify(body), body['error'] ?? null, { headers: { 'content-type': CRM_JSON_CONTENT_TYPE } });
}

function withMessage(answer: CrmAnswer, message: string | undefined): CrmAnswer {
  return message === undefined ? answer : { ...answer, message };
}

function earlyRejection(fault: Fault): CrmAnswer {
  const code = fault.code ?? ANSWERS.invalidToken.code;
  // A known code keeps its documented message unless the fault overrides it.
  const known = Object.values(ANSWERS).find((a) => a.code === code);
  return {
    httpStatus: fault.status ?? 401,
    code,
    message: fault.message ?? known?.message ?? code.toLowerCase().replaceAll('_', ' '),
    // code SUCCESS makes the half-truth: a success announced before the photo has arrived.
    status: known?.status ?? 'error',
  };
}

function resetAfter(ex: Exchange, afterBytes: number): void {
  if (afterBytes === 0) return ex.reset();
  ex.onBytes((total) => {
    if (total >= afterBytes) ex.reset();
  });
  ex.consume();
  // A body shorter than the threshold still gets no answer.
  void ex.bodyEnded.then((ended) => {
    if (ended) ex.reset();
  });
}

function htmlErrorPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><hr><p>upstream server</p></body></html>\n`;
}

/** The `code` of a JSON body, for the request log; null when there is none. */
function codeIn(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'code' in parsed && typeof parsed.code === 'string') {
      return parsed.code;
    }
  } catch {
    // not JSON: nothing to log
  }
  return null;
}
