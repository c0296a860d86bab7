/** The CRM's header-level checks, in its order: credentials, module, scope, permission, record. */
import { ANSWERS, type CrmAnswer } from './answers.ts';
import type { EmulatorState, TokenGrant } from './state.ts';

export type Operation = 'upload' | 'read' | 'delete';

export type AccessVerdict = { ok: true; module: string } | { ok: false; answer: CrmAnswer };
export type ModuleVerdict = { ok: true; module: string; grant: TokenGrant } | { ok: false; answer: CrmAnswer };

// Scope operations that cover each photo operation (ALL covers everything).
const SCOPE_OPERATIONS: Record<Operation, readonly string[]> = {
  upload: ['all', 'write', 'create'],
  read: ['all', 'read'],
  delete: ['all', 'delete'],
};

const AUTH_SCHEME = 'zoho-oauthtoken';

/** Extracts the token from `Zoho-oauthtoken <token>`; undefined for any other form. */
export function parseAuthorization(header: string): string | undefined {
  const match = /^(\S+) +(\S+)\s*$/.exec(header.trim());
  if (match === null || match[1]!.toLowerCase() !== AUTH_SCHEME) return undefined;
  return match[2];
}

function hasScope(scopes: readonly string[], module: string, custom: boolean, operation: Operation): boolean {
  const wanted = new Set(['zohocrm.modules.all']);
  // The CRM also grants every custom module through the `custom` pseudo-module.
  const names = custom ? [module.toLowerCase(), 'custom'] : [module.toLowerCase()];
  for (const name of names) for (const op of SCOPE_OPERATIONS[operation]) wanted.add(`zohocrm.modules.${name}.${op}`);
  return scopes.some((scope) => wanted.has(scope.toLowerCase()));
}

export function checkAccess(
  state: EmulatorState,
  authorization: string | undefined,
  moduleSegment: string,
  recordId: string,
  operation: Operation,
): AccessVerdict {
  const verdict = checkModuleAccess(state, authorization, moduleSegment, operation);
  if (!verdict.ok) return verdict;
  const { grant, module } = verdict;
  // The documented permission errors are about uploading; reading and deleting only need the scope.
  if (operation === 'upload') {
    if (grant.permission === 'no-permission') return { ok: false, answer: ANSWERS.noPermission };
    if (grant.permission === 'no-privilege') return { ok: false, answer: ANSWERS.authorizationFailed };
  }
  if (!state.recordExists(module, recordId)) return { ok: false, answer: ANSWERS.invalidRecord };
  if (operation !== 'read' && state.isLocked(module, recordId)) {
    return { ok: false, answer: ANSWERS.recordLocked };
  }
  return { ok: true, module };
}

/** The checks that come before any record: credentials, module, scope (Get Records stops here). */
export function checkModuleAccess(
  state: EmulatorState,
  authorization: string | undefined,
  moduleSegment: string,
  operation: Operation,
): ModuleVerdict {
  if (authorization === undefined || authorization.trim() === '') {
    return { ok: false, answer: ANSWERS.authenticationFailure };
  }
  const tokenValue = parseAuthorization(authorization);
  const grant = tokenValue === undefined ? undefined : state.token(tokenValue);
  if (grant === undefined) return { ok: false, answer: ANSWERS.invalidToken };

  const resolved = state.resolveModule(moduleSegment);
  if (resolved.kind === 'unsupported') return { ok: false, answer: ANSWERS.unsupportedModule };
  if (resolved.kind === 'unknown') return { ok: false, answer: ANSWERS.invalidModule };

  if (!hasScope(grant.scopes, resolved.apiName, resolved.custom, operation)) {
    return { ok: false, answer: ANSWERS.scopeMismatch };
  }
  return { ok: true, module: resolved.apiName, grant };
}
