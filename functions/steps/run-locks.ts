/**
 * The run lock of a deployed target, so runs of one target never overlap in
 * a region: the plan step takes it with a conditional write before anything
 * is sent, the record step releases it, and the state machine releases it on
 * its failure paths. A lock expires at its holder's worst-case end (the
 * state machine's timeout), so a run that died without releasing it blocks
 * nothing after that. A run that finds it held is recorded as `skipped`.
 * Implemented on the runs table by an adapter.
 */

/** Who holds a target's lock, and until when (epoch milliseconds). */
export interface RunLockHolder {
  runId: string;
  /** When the holder took it. */
  since: number;
  /** When it expires on its own, whatever happens to the holder. */
  until: number;
}

/** The outcome of taking a lock: taken, or held by another run. */
export type RunLockAttempt = { acquired: true } | { acquired: false; holder: RunLockHolder };

/** Run locks per target. */
export interface RunLocks {
  /**
   * Takes the lock of `targetId` for `holder` unless another run holds it and
   * it has not expired at `holder.since` (the same run may take it again).
   */
  acquire(targetId: string, holder: RunLockHolder): Promise<RunLockAttempt>;
  /** Releases the lock of `targetId` if `runId` holds it; false when it does not (expired, taken by another). */
  release(targetId: string, runId: string): Promise<boolean>;
}
