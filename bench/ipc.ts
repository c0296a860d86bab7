/**
 * Request/reply over a forked child's IPC channel, the child side: `serve` answers the parent's calls,
 * `announce` tells it something once (e.g. "ready on port N"). A child exits when its parent goes away.
 */
export interface IpcCall {
  kind: 'call';
  id: number;
  method: string;
  params: unknown;
}

export interface IpcReply {
  kind: 'reply';
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

export interface IpcAnnouncement {
  kind: 'announce';
  topic: string;
  value: unknown;
}

export type ChildMessage = IpcReply | IpcAnnouncement;

type Handler = (params: never) => unknown;

function send(message: ChildMessage): void {
  if (process.send && process.connected) process.send(message);
}

export function exitWithParent(): void {
  if (!process.send) throw new Error('this module is meant to be forked by bench/run.ts (no IPC channel)');
  process.on('disconnect', () => process.exit(0));
  // An orderly exit on SIGTERM, so a --cpu-prof profile gets written.
  process.on('SIGTERM', () => process.exit(0));
}

export function announce(topic: string, value: unknown): void {
  send({ kind: 'announce', topic, value });
}

export function serve(handlers: Record<string, Handler>): void {
  exitWithParent();
  process.on('message', (raw) => {
    const call = raw as IpcCall;
    if (call?.kind !== 'call') return;
    const handler = handlers[call.method];
    if (!handler) {
      send({ kind: 'reply', id: call.id, ok: false, error: `unknown method ${call.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(call.params as never))
      .then(
        (value) => send({ kind: 'reply', id: call.id, ok: true, value }),
        (error: unknown) =>
          send({ kind: 'reply', id: call.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
}
