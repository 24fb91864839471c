/**
 * The listing of stored runs `ws-ceiling history` prints, from the local
 * store (bin/cli/history-command.ts) or a deployed runs table
 * (bin/cli/deployed-history.ts): newest first, with the ceiling trend, or the
 * stored runs themselves with `--json`. A --target-id with no runs names the
 * targets that have some.
 */
import type { RunStore } from '../../functions/engine/run-store.js';
import { EXIT_CODES } from './exit-codes.js';
import { describeHistory, describeNoRunsOf } from './summary.js';

/** Newest runs read to name the targets that are stored when the one asked for has no runs. */
const TARGET_LISTING_RUNS = 1000;

/** What to list and how. */
export interface HistoryListing {
  targetId?: string;
  limit: number;
  json?: boolean;
}

/**
 * Prints the runs of one target or of every target, newest first, as a
 * table or JSON; returns the exit code. Shared by the local and the
 * deployed history.
 */
export async function printHistory(
  store: RunStore,
  listing: HistoryListing,
  io: { stdout: { write(text: string): unknown } },
): Promise<number> {
  const runs = listing.targetId
    ? await store.latestRuns(listing.targetId, listing.limit)
    : await store.recentRuns(listing.limit);
  if (listing.json) io.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
  else if (runs.length === 0 && listing.targetId !== undefined) {
    const others = new Set((await store.recentRuns(TARGET_LISTING_RUNS)).map((run) => run.targetId));
    io.stdout.write(`${describeNoRunsOf(listing.targetId, [...others].sort())}\n`);
  } else io.stdout.write(`${describeHistory(runs)}\n`);
  return EXIT_CODES.completed;
}
