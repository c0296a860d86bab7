/** A CRM module whose records take photos: its API name and the GraphQL-style key it is known by. */
export interface CrmModule {
  /** Upper-case key, e.g. `LEADS`, `CUSTOM_MODULE1`. */
  key: string;
  /** The CRM's API name, as it appears in URLs, e.g. `Leads`, `CustomModule1`. */
  apiName: string;
  custom: boolean;
}

/** The standard modules the CRM documents for record photos. */
export const STANDARD_MODULES: readonly CrmModule[] = ['Leads', 'Contacts', 'Accounts', 'Products', 'Deals', 'Vendors'].map(
  (apiName) => ({ key: apiName.toUpperCase(), apiName, custom: false }),
);

const API_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** `Vehicles` → `VEHICLES`, `CustomModule1` → `CUSTOM_MODULE1`, `Site_Visits` → `SITE_VISITS`. */
export function moduleKeyFor(apiName: string): string {
  return apiName.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export class ModuleCatalogError extends Error {
  override name = 'ModuleCatalogError';
}

/** The standard modules plus the configured custom ones; refuses names that are invalid or collide. */
export function moduleCatalog(customApiNames: readonly string[]): CrmModule[] {
  const modules = [...STANDARD_MODULES];
  for (const apiName of customApiNames) {
    if (!API_NAME.test(apiName)) {
      throw new ModuleCatalogError(
        `'${apiName}' is not a module API name (letters, digits and underscores, starting with a letter)`,
      );
    }
    const key = moduleKeyFor(apiName);
    const clash = modules.find((m) => m.key === key);
    if (clash) throw new ModuleCatalogError(clashMessage(apiName, clash, key));
    modules.push({ key, apiName, custom: true });
  }
  return modules;
}

function clashMessage(apiName: string, clash: CrmModule, key: string): string {
  if (!clash.custom && clash.apiName === apiName) {
    return `'${apiName}' is a standard module, always served: list only custom modules here`;
  }
  if (!clash.custom) {
    return `'${apiName}' would be the CrmModule value ${key}, which is the standard module '${clash.apiName}' (always served)`;
  }
  if (clash.apiName === apiName) return `'${apiName}' is listed twice`;
  return `'${apiName}' and '${clash.apiName}' would both be the CrmModule value ${key}`;
}
