/**
 * `ws-ceiling compare <runA> <runB>`: what changed between two stored runs
 * (ceiling, limiting factor, handshake latency, failure mix, settings). A run
 * is named by its id, a unique start of its id, or `latest` / `previous`
 * (the newest and second-newest run, of `--target-id` when given).
 */
import { compareRuns } from '../../functions/report/run-comparison.js';
import { openLocalStore } from './local-store.js';
import type { CommandIo } from './cli-context.js';
import { findRun, storedRuns } from './run-lookup.js';
import { describeComparison } from './summary.js';

/** Flags of `ws-ceiling compare`. */
export interface CompareFlags {
  targetId?: string;
  json?: boolean;
  store: string;
}

/** Prints what changed from run `first` to run `second` and returns the exit code. */
export async function compareCommand(
  first: string,
  second: string,
  flags: CompareFlags,
  io: CommandIo,
): Promise<number> {
  const local = await openLocalStore(flags.store, { existing: true });
  try {
    const runs = await storedRuns(local.store, flags.targetId);
    const before = findRun(runs, first, '<runA>', flags);
    const after = findRun(runs, second, '<runB>', flags);
    const comparison = compareRuns(before, after);
    io.stdout.write(flags.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${describeComparison(comparison)}\n`);
    return 0;
  } finally {
    await local.close();
  }
}
