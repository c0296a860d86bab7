import { expect } from 'vitest';
import { CORPUS_RECORD_ID, type HostileCase } from './corpus.ts';
import { settle, type ProcessStack } from './processes.ts';
import type { RawExchange } from './raw-http.ts';

function describeResponse(response: RawExchange): string {
  return `HTTP ${response.status} closed=${response.closedByServer} timedOut=${response.timedOut} ${response.body.slice(0, 300)}`;
}

/** Sends one hostile case and asserts what came back and what the CRM saw (then clears the CRM log). */
export async function checkCase(stack: ProcessStack, url: URL, hostile: HostileCase): Promise<void> {
  const response = await hostile.send(url);
  const seen = describeResponse(response);
  const { expect: expected } = hostile;
  switch (expected.kind) {
    case 'graphql-error': {
      expect(response.status, seen).toBe(expected.status);
      expect(response.headers['content-type'], seen).toMatch(/json/);
      const error = response.json?.errors?.[0];
      expect(error?.message, seen).toMatch(expected.message);
      expect(error?.extensions?.code, seen).toBe(expected.code);
      break;
    }
    case 'typed':
      expect(response.status, seen).toBe(200);
      expect((response.json?.data as { uploadRecordPhoto?: { __typename?: string } } | undefined)?.uploadRecordPhoto?.__typename, seen).toBe(
        expected.typename,
      );
      break;
    case 'connection-closed':
      // The server closed the connection itself, promptly, answering at most a 4xx. Which of the two the client
      // sees is a socket race: the server closes with request bytes still unread, so its reset can overtake the 400.
      expect(response.timedOut, seen).toBe(false);
      expect(response.closedByServer, seen).toBe(true);
      if (response.status !== null) expect(response.status >= 400 && response.status < 500, seen).toBe(true);
      break;
    case 'client-gone':
      // The server read everything up to the client's FIN, so nothing races its answer: Node's bare 400, then the close.
      expect(response.timedOut, seen).toBe(false);
      expect(response.closedByServer, seen).toBe(true);
      expect(response.status, seen).toBe(400);
      expect(response.body, seen).toBe('');
      break;
  }

  // What the CRM saw. A connection the server closed may leave work in flight for a moment: let it settle.
  if (expected.kind !== 'graphql-error') await new Promise((resolve) => setTimeout(resolve, 50));
  const log = await settle(() => stack.crm.requests(), (entries) => entries.every((entry) => entry.state !== 'receiving'), 3_000);
  const calls = log.map((entry) => `${entry.state} ${entry.method} ${entry.path}`);
  switch (hostile.crm) {
    case 'none':
      expect(calls, 'no CRM call').toEqual([]);
      break;
    case 'answered':
      expect(calls, 'one CRM call, answered').toEqual([`answered POST /crm/v7/Leads/${CORPUS_RECORD_ID}/photo`]);
      break;
    case 'not-stored':
      expect(log.every((entry) => entry.state === 'aborted'), `CRM calls must be aborted: ${calls.join('; ')}`).toBe(true);
      expect(await stack.crm.photo('Leads', CORPUS_RECORD_ID), 'no photo stored').toBeNull();
      break;
  }
  if (log.length > 0) await stack.crm.reset();
}

