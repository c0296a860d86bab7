/** The CRM modules that take record photos, and how a URL segment resolves to one. */

/** API names of the standard modules the photo endpoint documents. */
export const STANDARD_MODULES: readonly string[] = ['Leads', 'Contacts', 'Accounts', 'Products', 'Deals', 'Vendors'];

/** Modules the CRM knows but refuses in the API, with their own INVALID_MODULE message. */
export const UNSUPPORTED_MODULES: readonly string[] = ['Documents', 'Projects'];

export type ModuleResolution =
  | { kind: 'module'; apiName: string; custom: boolean }
  | { kind: 'unsupported'; apiName: string }
  | { kind: 'unknown' };

// API names are identifiers: a letter, then letters, digits or underscores.
const API_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Checks a list of custom-module API names; throws with a message naming the offending entry. */
export function validateCustomModules(names: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const name of names) {
    if (typeof name !== 'string' || !API_NAME.test(name)) {
      throw new TypeError(
        `custom module ${JSON.stringify(name)} is not a valid API name (a letter, then letters, digits or underscores)`,
      );
    }
    const key = name.toLowerCase();
    const builtIn = [...STANDARD_MODULES, ...UNSUPPORTED_MODULES].find((m) => m.toLowerCase() === key);
    if (builtIn !== undefined) {
      throw new TypeError(`custom module ${JSON.stringify(name)} collides with the built-in module ${builtIn}`);
    }
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new TypeError(`custom modules ${JSON.stringify(earlier)} and ${JSON.stringify(name)} differ only in case`);
    }
    seen.set(key, name);
  }
  return [...names];
}

/** Resolves a URL module segment case-insensitively, as the CRM does. */
export function resolveModule(segment: string, customModules: readonly string[]): ModuleResolution {
  const key = segment.toLowerCase();
  const standard = STANDARD_MODULES.find((m) => m.toLowerCase() === key);
  if (standard !== undefined) return { kind: 'module', apiName: standard, custom: false };
  const custom = customModules.find((m) => m.toLowerCase() === key);
  if (custom !== undefined) return { kind: 'module', apiName: custom, custom: true };
  const unsupported = UNSUPPORTED_MODULES.find((m) => m.toLowerCase() === key);
  if (unsupported !== undefined) return { kind: 'unsupported', apiName: unsupported };
  return { kind: 'unknown' };
}
