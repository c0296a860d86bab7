import { afterAll, beforeAll, beforeEach } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startCrmEmulator, type CrmEmulator } from '../../emulator/server.ts';
import { startGateway, type Gateway } from '../../src/server.ts';
import { EmulatorControl } from './emulator-control.ts';

export interface Stack {
  emulator: CrmEmulator;
  crm: EmulatorControl;
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

/** The emulator and the gateway on loopback ephemeral ports, wired as `npm start` wires them. */
export async function startStack(
  env: Record<string, string> = {},
  options: { emulatorCustomModules?: string[]; graphiqlHeaders?: Record<string, string> } = {},
): Promise<Stack> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ...env });
  const emulator = await startCrmEmulator({
    customModules: options.emulatorCustomModules ?? config.crm.modules.filter((m) => m.custom).map((m) => m.apiName),
  });
  const gateway = await startGateway(config, {
    crmOrigin: env.ZOHO_API_DOMAIN ?? emulator.origin,
    accountsUrl: env.ZOHO_ACCOUNTS_URL ?? emulator.origin,
    ...(options.graphiqlHeaders ? { graphiqlHeaders: options.graphiqlHeaders } : {}),
  });
  return {
    emulator,
    crm: new EmulatorControl(emulator.origin),
    gateway,
    url: gateway.url,
    async close() {
      gateway.server.closeAllConnections();
      await gateway.close();
      await emulator.close();
    },
  };
}

/**
 * One stack for a whole test file: started before its tests, closed after them, and (unless told
 * otherwise) the emulator reset before each test. The returned object is filled in once it has started.
 */
export function useStack(
  env: Record<string, string> = {},
  options: { resetEachTest?: boolean; emulatorCustomModules?: string[] } = {},
): Stack {
  const holder = {} as Stack;
  beforeAll(async () => {
    Object.assign(holder, await startStack(env, options));
  });
  afterAll(async () => {
    await holder.close?.();
  });
  if (options.resetEachTest !== false) {
    beforeEach(async () => {
      await holder.crm.reset();
    });
  }
  return holder;
}
