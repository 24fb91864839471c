/**
 * The run store as the engine sees it: write a finished run once, read runs
 * back. Implemented by the DynamoDB adapter (real AWS or the embedded store).
 */
import type { RunResult } from './types.js';

/** Result of writing a run: a retried write of the same run is a `duplicate`, never a second item. */
export type PutRunOutcome = 'written' | 'duplicate';

/** Where finished runs are kept. */
export interface RunStore {
  /** Writes the run unless an item with its key already exists. */
  putRun(run: RunResult): Promise<PutRunOutcome>;
  /** The newest runs of one target, newest first. */
  latestRuns(targetId: string, limit: number): Promise<RunResult[]>;
  /** The newest runs of every target, newest first. */
  recentRuns(limit: number): Promise<RunResult[]>;
}
