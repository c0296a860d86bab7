import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { moduleKeyFor } from '../src/crm/modules.ts';

describe('loadConfig', () => {
  it('serves on port 4000 against the embedded emulator by default', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.crm.apiDomain).toBeUndefined();
    expect(config.crm.apiVersion).toBe('v7');
    expect(config.crm.modules.map((m) => m.key)).toEqual(['LEADS', 'CONTACTS', 'ACCOUNTS', 'PRODUCTS', 'DEALS', 'VENDORS']);
  });

  it('takes a CRM origin and drops a trailing slash', () => {
    expect(loadConfig({ ZOHO_API_DOMAIN: 'https://www.zohoapis.eu/' }).crm.apiDomain).toBe('https://www.zohoapis.eu');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT', /PORT must be a whole number from 0 to 65535, got 'abc'/],
    [{ PORT: '70000' }, 'PORT', /PORT must be a whole number/],
    [{ ZOHO_API_DOMAIN: 'zohoapis.eu' }, 'ZOHO_API_DOMAIN', /ZOHO_API_DOMAIN must be an origin/],
    [{ ZOHO_API_DOMAIN: 'https://www.zohoapis.eu/crm/v7' }, 'ZOHO_API_DOMAIN', /with no path/],
    [{ ZOHO_API_DOMAIN: 'ftp://x.example' }, 'ZOHO_API_DOMAIN', /http\(s\) origin/],
    [{ ZOHO_API_VERSION: '7' }, 'ZOHO_API_VERSION', /must look like v7, got '7'/],
    [{ CRM_CONNECT_TIMEOUT_MS: '-5' }, 'CRM_CONNECT_TIMEOUT_MS', /whole number/],
    [{ CRM_CUSTOM_MODULES: 'Vehicles,Vehicles' }, 'CRM_CUSTOM_MODULES', /'Vehicles' and 'Vehicles' would both be the CrmModule value VEHICLES/],
    [{ CRM_CUSTOM_MODULES: 'SiteVisits,Site_Visits' }, 'CRM_CUSTOM_MODULES', /SITE_VISITS/],
    [{ CRM_CUSTOM_MODULES: 'leads' }, 'CRM_CUSTOM_MODULES', /'leads' and 'Leads' would both be the CrmModule value LEADS/],
    [{ CRM_CUSTOM_MODULES: 'Bad-Name' }, 'CRM_CUSTOM_MODULES', /'Bad-Name' is not a module API name/],
  ])('refuses %j, naming %s', (env, variable, message) => {
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe(variable);
    expect((thrown as ConfigError).message).toMatch(message);
  });

  it('adds custom modules after the standard ones, with their API names', () => {
    const { modules } = loadConfig({ CRM_CUSTOM_MODULES: ' Vehicles, CustomModule1 ,Site_Visits,' }).crm;
    expect(modules.filter((m) => m.custom)).toEqual([
      { key: 'VEHICLES', apiName: 'Vehicles', custom: true },
      { key: 'CUSTOM_MODULE1', apiName: 'CustomModule1', custom: true },
      { key: 'SITE_VISITS', apiName: 'Site_Visits', custom: true },
    ]);
  });
});

describe('moduleKeyFor', () => {
  it.each([
    ['Vehicles', 'VEHICLES'],
    ['CustomModule1', 'CUSTOM_MODULE1'],
    ['Site_Visits', 'SITE_VISITS'],
    ['Module2Name', 'MODULE2_NAME'],
    ['ABC', 'ABC'],
  ])('%s → %s', (apiName, key) => {
    expect(moduleKeyFor(apiName)).toBe(key);
  });
});
