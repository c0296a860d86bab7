/**
 * Preloaded with `node --import ./test/support/module-loads.ts …`: writes `module-load <url>` to stderr for every
 * package module the process loads (import or require) and, on SIGTERM, whether undici's request channel has
 * a subscriber. Tests read the child's stderr to see what a code path pulled in.
 */
import { hasSubscribers } from 'node:diagnostics_channel';
import { writeSync } from 'node:fs';
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/node_modules/')) writeSync(2, `module-load ${resolved.url}\n`);
    return resolved;
  },
});

// Told when the stop is asked for, before the process winds anything down (its own SIGTERM handler still runs).
process.on('SIGTERM', () => {
  writeSync(2, `undici-request-subscribers ${hasSubscribers('undici:request:create')}\n`);
});
