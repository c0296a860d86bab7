import type { CrmObserver } from '../crm/observer.ts';
import type { DownloadObserver } from '../photos/download-report.ts';
import type { UploadObserver } from '../photos/upload-report.ts';

export type Observer = CrmObserver & Partial<UploadObserver> & Partial<DownloadObserver>;

type Hook = 'crmCallEnded' | 'slotWaitEnded' | 'tokenRefreshEnded' | 'sharedBudgetChanged' | 'uploadEnded' | 'downloadEnded';
const HOOKS: readonly Hook[] = ['crmCallEnded', 'slotWaitEnded', 'tokenRefreshEnded', 'sharedBudgetChanged', 'uploadEnded', 'downloadEnded'];

/**
 * One observer that tells each of `observers` (logs, metrics, …) in turn. It has only the hooks at least one of
 * them has, so a caller that asks "does anyone want upload reports?" gets the honest answer.
 */
export function combineObservers(...observers: (Observer | undefined)[]): Observer {
  const present = observers.filter((observer): observer is Observer => observer !== undefined);
  const combined: Record<string, (...args: never[]) => void> = {};
  for (const hook of HOOKS) {
    const listeners = present.flatMap((observer) => {
      const listener = observer[hook] as ((...args: never[]) => void) | undefined;
      return listener ? [listener.bind(observer)] : [];
    });
    if (listeners.length === 0) continue;
    combined[hook] = (...args: never[]) => {
      for (const listener of listeners) listener(...args);
    };
  }
  return combined as Observer;
}
