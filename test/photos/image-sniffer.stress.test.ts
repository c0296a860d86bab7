import { describe, expect, it } from 'vitest';
import { chunkingCases, feedInChunks, sniff } from './sniff-helpers.ts';

// The exhaustive chunking replay, in npm run test:stress: every file of chunkingCases() fed one and seven bytes at
// a time, and walked prefix by prefix past its decision. npm test feeds the same files 4 KiB and 64 KiB at a time.

describe('sniffImage: chunked feeding, byte by byte', () => {
  it.each([1, 7])('gives the whole-file answer when fed %i bytes at a time', (chunkBytes) => {
    for (const [name, file] of chunkingCases()) {
      expect(feedInChunks(file, chunkBytes), name).toEqual(sniff(file));
    }
  });

  it('never changes its mind once it has decided, for any longer prefix', () => {
    for (const [name, file] of chunkingCases()) {
      let decidedAt = 0;
      while (decidedAt < file.length && sniff(file.subarray(0, decidedAt), false).status === 'need-more') decidedAt++;
      const decision = sniff(file.subarray(0, decidedAt), false);
      const later = [decidedAt + 1, decidedAt + 2, decidedAt + 64, file.length].filter((n) => n <= file.length);
      for (const n of later) expect(sniff(file.subarray(0, n), false), `${name} at ${n} bytes`).toEqual(decision);
    }
  });
});
