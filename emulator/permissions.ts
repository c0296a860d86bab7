/** What a token's user may do once its scope allows the call (the CRM's permission checks). */
export type Permission = 'granted' | 'no-permission' | 'no-privilege';
export const PERMISSIONS: readonly Permission[] = ['granted', 'no-permission', 'no-privilege'];
