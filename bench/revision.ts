/** What was measured: the commit, whether src/ had uncommitted changes, and the gateway's effective limits. */
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../src/config.ts';

export interface Revision {
  /** Where the gateway's src/ came from. */
  gatewayRoot: string;
  commit: string;
  srcDirty: boolean;
  /** The CRM concurrency settings the gateway runs with, as its own config loader reads them. */
  gatewayLimits: string;
}

function git(root: string, args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function describeRevision(root: string, gatewayEnv: Record<string, string>): Revision {
  let gatewayLimits: string;
  try {
    const { maxConcurrency, maxQueue, queueTimeoutMs } = loadConfig({ NODE_ENV: 'production', ...gatewayEnv, ZOHO_API_DOMAIN: 'http://127.0.0.1:1' }).crm;
    gatewayLimits = `maxConcurrency ${maxConcurrency}, maxQueue ${maxQueue}, queueTimeoutMs ${queueTimeoutMs}`;
  } catch (error) {
    gatewayLimits = `unreadable (${error instanceof Error ? error.message : String(error)})`;
  }
  return {
    gatewayRoot: root,
    commit: git(root, ['rev-parse', '--short', 'HEAD']) || 'unknown',
    srcDirty: git(root, ['status', '--porcelain', '--', 'src']) !== '',
    gatewayLimits,
  };
}
