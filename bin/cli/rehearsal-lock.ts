/**
 * The target's run lock in a rehearsal's store. The plan step takes it and
 * the record step (or the state machine's failure path) releases it, as
 * deployed. A store is used by one process at a time, so no other rehearsal
 * can hold a lock found in it: one found when a rehearsal starts was left by
 * a rehearsal that could not release it (killed with SIGKILL, or its machine
 * went down), and the plan step skips this run because of it, as it would
 * deployed. At exit a rehearsal releases whatever lock of its target is left
 * (an aborted execution's, or the one that made it skip), so a lock never
 * makes more than one rehearsal `skipped`.
 */
import type { DynamoRunLocks } from '../../functions/adapters/dynamo-run-locks.js';
import type { RunLockHolder } from '../../functions/steps/run-locks.js';

/** What became of the target's run lock in a rehearsal. */
export interface RehearsalLock {
  /** An unexpired lock found before the execution started (so the plan step skipped the run). */
  foundAtStart?: RunLockHolder;
  /** The lock left when the execution ended, which the rehearsal released. */
  releasedAtExit?: RunLockHolder;
}

/** The target's lock when it is held now (unexpired), else undefined. */
export async function heldLock(
  locks: Pick<DynamoRunLocks, 'holder'>,
  targetId: string,
  now: number,
): Promise<RunLockHolder | undefined> {
  const holder = await locks.holder(targetId);
  return holder && holder.until > now ? holder : undefined;
}

/** Releases the target's lock whoever holds it (expired or not); returns the holder it released. */
export async function releaseLeftLock(
  locks: Pick<DynamoRunLocks, 'holder' | 'release'>,
  targetId: string,
): Promise<RunLockHolder | undefined> {
  const holder = await locks.holder(targetId);
  if (!holder) return undefined;
  return (await locks.release(targetId, holder.runId)) ? holder : undefined;
}
