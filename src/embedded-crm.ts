import { fileURLToPath } from 'node:url';
import { PROJECT_DIR } from './code-location.ts';

/**
 * The CRM emulator lives beside the product (`emulator/`), not in its build: `npm start` with no CRM configured
 * loads it from the source tree. The compiled image has no emulator, and production never asks for one.
 */
export interface EmbeddedCrm {
  /** Both the CRM API origin and the accounts origin. */
  readonly origin: string;
  /** A token the emulator accepts for every standard and configured module. */
  readonly demoToken: string;
  /** A photo to upload to a demo record, from the emulator's folder (absolute path). */
  readonly samplePhoto: string;
  close(): Promise<void>;
}

interface EmulatorModule {
  EMULATOR_TOKEN: string;
  startCrmEmulator(options: { customModules: string[] }): Promise<{ origin: string; close(): Promise<void> }>;
}

// A specifier neither compiler nor bundler follows, so the emulator stays out of dist/.
const EMULATOR_ENTRY = new URL('emulator/server.ts', PROJECT_DIR).href;
const SAMPLE_PHOTO = fileURLToPath(new URL('emulator/sample-photo.png', PROJECT_DIR));

export class EmbeddedCrmMissingError extends Error {
  override name = 'EmbeddedCrmMissingError';
}

export async function startEmbeddedCrm(customModules: string[]): Promise<EmbeddedCrm> {
  let emulator: EmulatorModule;
  try {
    emulator = (await import(EMULATOR_ENTRY)) as EmulatorModule;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' && (error as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    throw new EmbeddedCrmMissingError(
      'No CRM is configured (ZOHO_DC or ZOHO_API_DOMAIN) and this build has no CRM emulator: set one of them, or run `npm start` from the source tree.',
    );
  }
  const running = await emulator.startCrmEmulator({ customModules });
  return { origin: running.origin, demoToken: emulator.EMULATOR_TOKEN, samplePhoto: SAMPLE_PHOTO, close: () => running.close() };
}
