/**
 * What the A/B tools share (ab.ts, shared-budget.ts): every cell run against each variant in turn, the order flipped
 * each round so that both see the same machine load, each a measured window of the gateway path.
 */
import { runCell, type CellOutcome, type Rig } from '../cells.ts';
import type { Server } from '../servers.ts';
import type { Settings } from '../settings.ts';
import { sizeLabel } from '../stats.ts';

export interface AlternatedCell {
  round: number;
  /** `<size> × <concurrency>|<variant>`: the key results are gathered under. */
  key: string;
  cell: CellOutcome;
}

/** Runs the rounds; `before` runs just before each cell with its `<size> × <concurrency>` label, `after` gets each cell as it ends. */
export async function runAlternated(
  rig: Rig,
  settings: Settings,
  options: {
    rounds: number;
    cells: readonly { size: number; concurrency: number }[];
    variants: readonly [string, Server][];
    before?: (cellLabel: string) => Promise<void> | void;
    after: (result: AlternatedCell) => Promise<void> | void;
  },
): Promise<void> {
  for (let round = 0; round < options.rounds; round++) {
    for (const { size, concurrency } of options.cells) {
      for (const [name, server] of round % 2 === 0 ? options.variants : [...options.variants].reverse()) {
        const label = `${sizeLabel(size)} × ${concurrency}`;
        await options.before?.(label);
        const cell = await runCell(rig, {
          path: 'gateway',
          server,
          size,
          concurrency,
          mode: { kind: 'window', warmupCompletions: concurrency, warmupMs: 300, windowMs: settings.windowMs, minWindowCompletions: Math.max(2 * concurrency, 30) },
          measureFirstByte: false,
          timeoutMs: settings.cellTimeoutMs,
        });
        await options.after({ round, key: `${label}|${name}`, cell });
      }
    }
  }
}
