/** Where each CRM data centre serves its API and its accounts (OAuth) server. */
export interface DataCentre {
  apiDomain: string;
  accountsUrl: string;
  /** Developer sandbox orgs of this data centre. */
  sandboxApiDomain: string;
}

function centre(apiTld: string, accountsHost: string): DataCentre {
  return {
    apiDomain: `https://www.zohoapis.${apiTld}`,
    accountsUrl: `https://${accountsHost}`,
    sandboxApiDomain: `https://sandbox.zohoapis.${apiTld}`,
  };
}

export const DATA_CENTRES = {
  us: centre('com', 'accounts.zoho.com'),
  eu: centre('eu', 'accounts.zoho.eu'),
  in: centre('in', 'accounts.zoho.in'),
  au: centre('com.au', 'accounts.zoho.com.au'),
  jp: centre('jp', 'accounts.zoho.jp'),
  ca: centre('ca', 'accounts.zohocloud.ca'),
  sa: centre('sa', 'accounts.zoho.sa'),
  uk: centre('uk', 'accounts.zoho.uk'),
  cn: centre('com.cn', 'accounts.zoho.com.cn'),
} as const satisfies Record<string, DataCentre>;

export type DataCentreCode = keyof typeof DATA_CENTRES;

export function isDataCentreCode(code: string): code is DataCentreCode {
  return Object.hasOwn(DATA_CENTRES, code);
}
