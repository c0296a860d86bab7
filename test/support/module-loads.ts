/**
 * Preloaded with `node --import ./test/support/module-loads.ts …` and MODULE_LOADS_FILE set: appends
 * `module-load <url>` to that file for every package module the process loads (import or require) and, on SIGTERM,
 * whether undici's request channel has a subscriber. Tests read the file to see what a code path pulled in.
 * A regular file, not stderr: a pipe the test reads slowly would make a synchronous write fail with EAGAIN.
 */
import { hasSubscribers } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const target = process.env.MODULE_LOADS_FILE;
if (!target) throw new Error('module-loads.ts needs MODULE_LOADS_FILE');

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/node_modules/')) appendFileSync(target, `module-load ${resolved.url}\n`);
    return resolved;
  },
});

// Told when the stop is asked for, before the process winds anything down (its own SIGTERM handler still runs).
process.on('SIGTERM', () => {
  appendFileSync(target, `undici-request-subscribers ${hasSubscribers('undici:request:create')}\n`);
});
