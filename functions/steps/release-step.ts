/**
 * Releasing a run's lock on the state machine's failure path: when the map
 * or the record step fails for good, the state machine's catch hands the
 * record Lambda a ReleaseLockRequest for the run before it fails the
 * execution, so the target's next run is not skipped until the lock expires.
 * The record Lambda does it because its role may already delete run locks.
 */
import type { Logger } from '../engine/logger.js';
import type { RunLocks } from './run-locks.js';

/** What the state machine's catch sends the record Lambda. */
export interface ReleaseLockRequest {
  releaseLock: { targetId: string; runId: string };
}

/** What the release answers. */
export interface ReleaseLockOutput {
  /** False when the run no longer held the lock (expired, or taken by another run). */
  released: boolean;
}

/** True when the record Lambda's event is a ReleaseLockRequest rather than a run to record. */
export function isReleaseLockRequest(event: unknown): event is ReleaseLockRequest {
  if (typeof event !== 'object' || event === null || !('releaseLock' in event)) return false;
  const { releaseLock } = event;
  if (typeof releaseLock !== 'object' || releaseLock === null) return false;
  const fields = releaseLock as Record<string, unknown>;
  return typeof fields.targetId === 'string' && typeof fields.runId === 'string';
}

/** Releases the run's lock if it still holds it, and logs what happened. */
export async function releaseStep(
  request: ReleaseLockRequest,
  deps: { locks: Pick<RunLocks, 'release'>; log: Logger },
): Promise<ReleaseLockOutput> {
  const { targetId, runId } = request.releaseLock;
  const released = await deps.locks.release(targetId, runId);
  deps.log.warn('run failed; its run lock is released', { targetId, runId, released });
  return { released };
}
