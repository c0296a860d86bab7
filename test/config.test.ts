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
    [{ CRM_CUSTOM_MODULES: 'Vehicles,Vehicles' }, 'CRM_CUSTOM_MODULES', /'Vehicles' is listed twice$/],
    [{ CRM_CUSTOM_MODULES: 'Leads' }, 'CRM_CUSTOM_MODULES', /'Leads' is a standard module, always served: list only custom modules here$/],
    [{ CRM_CUSTOM_MODULES: 'Vehicles,Deals' }, 'CRM_CUSTOM_MODULES', /'Deals' is a standard module, always served/],
    [{ CRM_CUSTOM_MODULES: 'SiteVisits,Site_Visits' }, 'CRM_CUSTOM_MODULES', /'Site_Visits' and 'SiteVisits' would both be the CrmModule value SITE_VISITS$/],
    [{ CRM_CUSTOM_MODULES: 'leads' }, 'CRM_CUSTOM_MODULES', /'leads' would be the CrmModule value LEADS, which is the standard module 'Leads' \(always served\)$/],
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

describe('data centres', () => {
  it.each([
    ['us', 'https://www.zohoapis.com', 'https://accounts.zoho.com'],
    ['eu', 'https://www.zohoapis.eu', 'https://accounts.zoho.eu'],
    ['in', 'https://www.zohoapis.in', 'https://accounts.zoho.in'],
    ['au', 'https://www.zohoapis.com.au', 'https://accounts.zoho.com.au'],
    ['jp', 'https://www.zohoapis.jp', 'https://accounts.zoho.jp'],
    ['ca', 'https://www.zohoapis.ca', 'https://accounts.zohocloud.ca'],
    ['sa', 'https://www.zohoapis.sa', 'https://accounts.zoho.sa'],
    ['uk', 'https://www.zohoapis.uk', 'https://accounts.zoho.uk'],
    ['CN', 'https://www.zohoapis.com.cn', 'https://accounts.zoho.com.cn'],
  ])('ZOHO_DC=%s sets the API and accounts origins', (dc, apiDomain, accountsUrl) => {
    expect(loadConfig({ ZOHO_DC: dc }).crm).toMatchObject({ apiDomain, accountsUrl });
  });

  it('ZOHO_SANDBOX=true uses the data centre sandbox API origin', () => {
    expect(loadConfig({ ZOHO_DC: 'eu', ZOHO_SANDBOX: 'true' }).crm).toMatchObject({
      apiDomain: 'https://sandbox.zohoapis.eu',
      accountsUrl: 'https://accounts.zoho.eu',
    });
  });

  it('ZOHO_API_DOMAIN and ZOHO_ACCOUNTS_URL override the data centre one by one', () => {
    expect(loadConfig({ ZOHO_DC: 'eu', ZOHO_API_DOMAIN: 'https://crm.proxy.example' }).crm).toMatchObject({
      apiDomain: 'https://crm.proxy.example',
      accountsUrl: 'https://accounts.zoho.eu',
    });
    expect(loadConfig({ ZOHO_DC: 'eu', ZOHO_ACCOUNTS_URL: 'https://accounts.proxy.example/' }).crm).toMatchObject({
      apiDomain: 'https://www.zohoapis.eu',
      accountsUrl: 'https://accounts.proxy.example',
    });
  });

  it('an unknown data centre stops start-up with the list of valid ones', () => {
    expect(() => loadConfig({ ZOHO_DC: 'mars' })).toThrow("ZOHO_DC must be one of us, eu, in, au, jp, ca, sa, uk, cn, got 'mars'");
  });

  it('a sandbox needs a data centre', () => {
    expect(() => loadConfig({ ZOHO_SANDBOX: 'true' })).toThrow(/ZOHO_SANDBOX needs ZOHO_DC/);
    expect(() => loadConfig({ ZOHO_SANDBOX: 'maybe' })).toThrow(/ZOHO_SANDBOX must be true or false/);
  });
});

describe('credentials', () => {
  const service = { ZOHO_CLIENT_ID: 'client', ZOHO_CLIENT_SECRET: 'secret-value', ZOHO_REFRESH_TOKEN: 'refresh-value' };
  const keys = { GATEWAY_API_KEYS: 'key-one-0123456789abcdef, key-two-0123456789abcdef' };

  it('is pass-through by default', () => {
    expect(loadConfig({}).serviceCredentials).toBeNull();
  });

  it('turns to service mode with all three client variables and API keys', () => {
    const config = loadConfig({ ...service, ...keys });
    expect(config.serviceCredentials).toEqual({ clientId: 'client', clientSecret: 'secret-value', refreshToken: 'refresh-value' });
    expect(config.apiKeys).toEqual(['key-one-0123456789abcdef', 'key-two-0123456789abcdef']);
  });

  it('refuses service mode without inbound authentication', () => {
    expect(() => loadConfig(service)).toThrow(/GATEWAY_API_KEYS must be set in service mode/);
  });

  it('names the missing one of the three', () => {
    expect(() => loadConfig({ ...keys, ZOHO_CLIENT_ID: 'client', ZOHO_REFRESH_TOKEN: 'r' })).toThrow(
      /ZOHO_CLIENT_SECRET must be set too/,
    );
  });

  it('needs an accounts origin for a real CRM in service mode', () => {
    expect(() => loadConfig({ ...service, ...keys, ZOHO_API_DOMAIN: 'https://www.zohoapis.com' })).toThrow(/ZOHO_ACCOUNTS_URL must be set/);
    expect(loadConfig({ ...service, ...keys, ZOHO_DC: 'us' }).crm.accountsUrl).toBe('https://accounts.zoho.com');
  });

  it('refuses a short API key without printing it', () => {
    let message = '';
    try {
      loadConfig({ GATEWAY_API_KEYS: 'long-enough-key-0123456789,tiny-k3y' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/GATEWAY_API_KEYS has a key shorter than 16 characters \(key 2\)/);
    expect(message).not.toContain('tiny-k3y');
  });
});

describe('GraphiQL, introspection and operation limits', () => {
  const production = { NODE_ENV: 'production', ZOHO_DC: 'eu' };

  it('serve GraphiQL and introspection by default, with limits that let every known operation through', () => {
    const config = loadConfig({});
    expect(config.graphiql).toBe(true);
    expect(config.introspection).toBe(true);
    expect(config.operationLimits).toEqual({ maxAliases: 15, maxDepth: 10, maxTokens: 1_000, maxDirectives: 50, maxCost: 1_000 });
  });

  it.each([
    [{}, true, true],
    [{ GRAPHIQL: 'false' }, false, true],
    [production, true, true],
    [{ ...production, GRAPHIQL: 'true' }, true, true],
    [{ ...production, GRAPHIQL: 'false' }, false, false],
    [{ ...production, GRAPHIQL: '0' }, false, false],
  ])('%j: GraphiQL %s, introspection %s (off only in production without GraphiQL)', (env, graphiql, introspection) => {
    const config = loadConfig(env);
    expect(config.graphiql).toBe(graphiql);
    expect(config.introspection).toBe(introspection);
  });

  it('take each limit from its variable', () => {
    expect(
      loadConfig({
        GRAPHQL_MAX_ALIASES: '0',
        GRAPHQL_MAX_DEPTH: '4',
        GRAPHQL_MAX_TOKENS: '500',
        GRAPHQL_MAX_DIRECTIVES: '2',
        GRAPHQL_MAX_COST: '200',
      }).operationLimits,
    ).toEqual({ maxAliases: 0, maxDepth: 4, maxTokens: 500, maxDirectives: 2, maxCost: 200 });
  });

  it.each([
    [{ GRAPHIQL: 'yes' }, /GRAPHIQL must be true or false, got 'yes'/],
    [{ GRAPHQL_MAX_ALIASES: '-1' }, /GRAPHQL_MAX_ALIASES must be a whole number from 0 to 1000/],
    [{ GRAPHQL_MAX_DEPTH: '0' }, /GRAPHQL_MAX_DEPTH must be a whole number from 1 to 1000/],
    [{ GRAPHQL_MAX_TOKENS: 'many' }, /GRAPHQL_MAX_TOKENS must be a whole number from 1 to 100000/],
    [{ GRAPHQL_MAX_DIRECTIVES: '1.5' }, /GRAPHQL_MAX_DIRECTIVES must be a whole number/],
    [{ GRAPHQL_MAX_COST: '0' }, /GRAPHQL_MAX_COST must be a whole number from 1 to 1000000/],
  ])('refuse %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('limits on hostile callers', () => {
  it('has defaults that let a phone on a poor link through and bound what one caller holds', () => {
    const config = loadConfig({});
    expect(config.uploadMinBytesPerSecond).toBe(1024);
    expect(config.uploadMaxSeconds).toBe(300);
    expect(config.crm.maxConcurrencyPerCaller).toBe(3);
    expect(config.headersTimeoutMs).toBe(15_000);
  });

  it('takes 0 for no rate floor', () => {
    expect(loadConfig({ UPLOAD_MIN_BYTES_PER_SECOND: '0' }).uploadMinBytesPerSecond).toBe(0);
  });

  it.each([
    [{ UPLOAD_MIN_BYTES_PER_SECOND: '1k' }, 'UPLOAD_MIN_BYTES_PER_SECOND'],
    [{ UPLOAD_MAX_SECONDS: '0' }, 'UPLOAD_MAX_SECONDS'],
    [{ UPLOAD_MAX_SECONDS: '86401' }, 'UPLOAD_MAX_SECONDS'],
    [{ CRM_MAX_CONCURRENCY_PER_CALLER: '0' }, 'CRM_MAX_CONCURRENCY_PER_CALLER'],
    [{ HEADERS_TIMEOUT_MS: '0' }, 'HEADERS_TIMEOUT_MS'],
  ])('refuses %j, naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} must be a whole number`));
  });
});

describe('phone photos', () => {
  it('forward photos as sent by default, with the location taken out of JPEGs and a lane of two resizes', () => {
    expect(loadConfig({}).photos).toEqual({
      fitToLimits: false,
      resizeConcurrency: 2,
      resizeMaxQueue: 8,
      jpegQuality: 85,
      stripLocation: true,
      stripMetadata: false,
    });
  });

  it('take each setting from its variable', () => {
    const env = {
      PHOTO_FIT_TO_LIMITS: 'true',
      PHOTO_RESIZE_CONCURRENCY: '4',
      PHOTO_RESIZE_MAX_QUEUE: '0',
      PHOTO_JPEG_QUALITY: '70',
      PHOTO_STRIP_LOCATION: 'false',
      PHOTO_STRIP_METADATA: '1',
    };
    expect(loadConfig(env).photos).toEqual({
      fitToLimits: true,
      resizeConcurrency: 4,
      resizeMaxQueue: 0,
      jpegQuality: 70,
      stripLocation: false,
      stripMetadata: true,
    });
  });

  it.each([
    [{ PHOTO_FIT_TO_LIMITS: 'yes' }, /PHOTO_FIT_TO_LIMITS must be true or false, got 'yes'/],
    [{ PHOTO_RESIZE_CONCURRENCY: '0' }, /PHOTO_RESIZE_CONCURRENCY must be a whole number from 1 to 64, got '0'/],
    [{ PHOTO_RESIZE_MAX_QUEUE: '-1' }, /PHOTO_RESIZE_MAX_QUEUE must be a whole number/],
    [{ PHOTO_JPEG_QUALITY: '101' }, /PHOTO_JPEG_QUALITY must be a whole number from 50 to 100, got '101'/],
    [{ PHOTO_STRIP_LOCATION: 'off' }, /PHOTO_STRIP_LOCATION must be true or false/],
    [{ PHOTO_STRIP_METADATA: 'all' }, /PHOTO_STRIP_METADATA must be true or false/],
  ])('refuse %j with a message naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('several replicas (Redis)', () => {
  it('keeps everything in the process without REDIS_URL, with a lease and one replica by default', () => {
    const config = loadConfig({});
    expect(config.redis).toBeNull();
    expect(config.crm.replicas).toBe(1);
    expect(config.crm.slotLeaseMs).toBe(30_000);
  });

  it('takes REDIS_URL, REDIS_KEY_PREFIX, CRM_REPLICAS and CRM_SLOT_LEASE_MS', () => {
    const config = loadConfig({ REDIS_URL: 'rediss://gw:s3cret@redis.internal:6380/2', REDIS_KEY_PREFIX: 'acme:', CRM_REPLICAS: '3', CRM_SLOT_LEASE_MS: '5000' });
    expect(config.redis).toEqual({ url: 'rediss://gw:s3cret@redis.internal:6380/2', keyPrefix: 'acme:' });
    expect(config.crm.replicas).toBe(3);
    expect(config.crm.slotLeaseMs).toBe(5_000);
    expect(loadConfig({ REDIS_URL: 'redis://redis:6379' }).redis?.keyPrefix).toBe('crm-photos:');
  });

  it.each([
    [{ REDIS_URL: 'redis' }, /REDIS_URL must be a URL such as redis:\/\/redis:6379/],
    [{ REDIS_URL: 'http://user:hunter22@redis:6379' }, /REDIS_URL must start with redis:\/\/ or rediss:\/\/, got 'http:'$/],
    [{ REDIS_URL: 'redis://user:hunter22@redis:6379/cache' }, /REDIS_URL may end only with a database number/],
    [{ REDIS_KEY_PREFIX: 'two words' }, /REDIS_KEY_PREFIX must be 1 to 64 visible ASCII characters/],
    [{ CRM_REPLICAS: '0' }, /CRM_REPLICAS must be a whole number from 1 to 1000/],
    [{ CRM_SLOT_LEASE_MS: '500' }, /CRM_SLOT_LEASE_MS must be a whole number from 1000 to 3600000/],
  ])('refuses %j, never echoing a password', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('hunter22');
  });
});
