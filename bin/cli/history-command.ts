/**
 * `ws-ceiling history`: lists stored runs, newest first, from the local store,
 * with the ceiling trend (baseline, ratio, change, a bar per run). `--json`
 * prints the stored runs themselves.
 */
import { openLocalStore } from './local-store.js';
import type { CommandIo } from './run-command.js';
import { describeHistory } from './summary.js';

/** Flags of `ws-ceiling history`. */
export interface HistoryFlags {
  targetId?: string;
  limit: number;
  json?: boolean;
  store: string;
}

/** Prints the stored runs of one target, or of every target, with their trend, and returns the exit code. */
export async function historyCommand(flags: HistoryFlags, io: CommandIo): Promise<number> {
  const local = await openLocalStore(flags.store);
  try {
    const runs = flags.targetId
      ? await local.store.latestRuns(flags.targetId, flags.limit)
      : await local.store.recentRuns(flags.limit);
    io.stdout.write(flags.json ? `${JSON.stringify(runs, null, 2)}\n` : `${describeHistory(runs)}\n`);
    return 0;
  } finally {
    await local.close();
  }
}
