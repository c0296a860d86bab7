/**
 * `node bench/tools/log-line.ts`: what one upload's log line costs, written through the gateway's own logger to
 * /dev/null — through the redacting logger (every other line's path) and through the one the upload line uses.
 * Prints µs per line, alternated rounds; a micro-benchmark, for the profile's "pino" share (bench/FINDINGS.md).
 */
import { pino } from 'pino';
import { createLogger, uploadLog } from '../../src/telemetry/logger.ts';
import type { UploadReport } from '../../src/photos/upload-report.ts';

const LINES = 50_000;
const report: UploadReport = {
  requestId: '3f1c9a52-7d0e-4b8a-9a59-2f0d8c1e6b44',
  moduleApiName: 'Leads',
  recordId: '1000000000001',
  outcome: 'UploadRecordPhotoSuccess',
  code: null,
  crmStatus: 200,
  bytesForwarded: 102_400,
  queuedMs: 0.12,
  crmMs: 1.93,
  totalMs: 2.71,
};
const { error: _none, ...fields } = { ...report, error: undefined };

const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, pino.destination({ dest: '/dev/null', sync: true }));
const upload = uploadLog(logger);
const ways: [string, () => void][] = [
  ['the redacting logger (any other line)', () => logger.info(fields, 'upload ended')],
  ['the upload line (uploadLog)', () => upload.uploadEnded(report)],
];
for (let round = 1; round <= 3; round++) {
  for (const [name, write] of ways) {
    const started = performance.now();
    for (let i = 0; i < LINES; i++) write();
    process.stdout.write(`round ${round}: ${name}: ${(((performance.now() - started) * 1000) / LINES).toFixed(1)} µs per line\n`);
  }
}
