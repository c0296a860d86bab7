/** Standalone runner: `node emulator/main.ts` (npm run emulator) serves the CRM emulator until SIGINT/SIGTERM. */
import { validateCustomModules } from './modules.ts';
import { EMULATOR_CLIENT_ID, EMULATOR_REFRESH_TOKEN, secretHint, TOKEN_PATH } from './accounts.ts';
import { startCrmEmulator } from './server.ts';
import { EMULATOR_TOKEN } from './state.ts';

const DEFAULT_PORT = 4010;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function portFromEnv(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_PORT;
  const port = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || port > 65535) {
    fail(`EMULATOR_PORT must be an integer from 0 to 65535 (0 = any free port), got ${JSON.stringify(raw)}`);
  }
  return port;
}

function customModulesFromEnv(raw: string | undefined): string[] {
  const names = (raw ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  try {
    return validateCustomModules(names);
  } catch (error) {
    return fail(`CRM_CUSTOM_MODULES is invalid: ${(error as Error).message}`);
  }
}

const port = portFromEnv(process.env['EMULATOR_PORT']);
const customModules = customModulesFromEnv(process.env['CRM_CUSTOM_MODULES']);

let emulator: Awaited<ReturnType<typeof startCrmEmulator>>;
try {
  emulator = await startCrmEmulator({ port, customModules });
} catch (error) {
  fail(`CRM emulator could not listen on port ${port}: ${(error as Error).message}`);
}

const banner = [
  `CRM emulator listening on ${emulator.origin}`,
  `Demo token: ${EMULATOR_TOKEN} (send "Authorization: Zoho-oauthtoken ${EMULATOR_TOKEN}")`,
  // The client secret and the whole refresh token stay out of the output: they are constants in accounts.ts.
  `Accounts server: POST ${emulator.accountsOrigin}${TOKEN_PATH}, OAuth client ${EMULATOR_CLIENT_ID}, ` +
    `refresh token ${secretHint(EMULATOR_REFRESH_TOKEN)} (EMULATOR_CLIENT_SECRET and EMULATOR_REFRESH_TOKEN in emulator/accounts.ts)`,
  ...(customModules.length > 0 ? [`Custom modules: ${customModules.join(', ')}`] : []),
];
// One write, so a reader that sees the origin sees the whole banner.
process.stdout.write(`${banner.join('\n')}\n`);

function stop(signal: NodeJS.Signals): void {
  process.stdout.write(`${signal} received, closing the CRM emulator\n`);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  // Once the server and its sockets are closed nothing keeps the process alive, so it exits with 0.
  emulator.close().catch((error: unknown) => fail(`closing failed: ${(error as Error).message}`));
}

process.on('SIGINT', stop);
process.on('SIGTERM', stop);
