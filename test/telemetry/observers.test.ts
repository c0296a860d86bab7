import { expect, it } from 'vitest';
import type { UploadReport } from '../../src/photos/upload-report.ts';
import { combineObservers } from '../../src/telemetry/observers.ts';

it('tells every observer that has the hook, in order, and has only the hooks someone has', () => {
  const heard: string[] = [];
  const combined = combineObservers(
    { crmCallEnded: (call) => heard.push(`a:${call.operation}`) },
    undefined,
    {
      crmCallEnded: (call) => heard.push(`b:${call.operation}`),
      uploadEnded: (report) => heard.push(`b:${report.outcome}`),
    },
  );
  combined.crmCallEnded!({ operation: 'upload-photo', status: 200, durationMs: 1 });
  combined.uploadEnded!({ outcome: 'UploadRecordPhotoSuccess' } as UploadReport);
  expect(heard).toEqual(['a:upload-photo', 'b:upload-photo', 'b:UploadRecordPhotoSuccess']);
  expect(combined.slotWaitEnded).toBeUndefined();
  expect(combined.tokenRefreshEnded).toBeUndefined();
  expect(combineObservers().uploadEnded).toBeUndefined();
});

it('keeps each observer as `this` for its own hooks', () => {
  class Counter {
    calls = 0;
    tokenRefreshEnded() {
      this.calls += 1;
    }
  }
  const counter = new Counter();
  combineObservers(counter).tokenRefreshEnded!('success');
  expect(counter.calls).toBe(1);
});
