/**
 * The deployed kill switch as the engine sees it: `ws-ceiling stop` records a
 * stop request for a target, and every worker of a run planned before that
 * request polls for it and stops opening, closes its connections with 1000
 * and returns its records. Implemented on the runs table by an adapter.
 */

/** Stop requests per target. */
export interface StopRequests {
  /** Asks every run of `targetId` planned at or before `at` to stop. */
  requestStop(targetId: string, at: Date): Promise<void>;
  /** True when a stop was requested for `targetId` at or after `plannedAt` (epoch milliseconds). */
  stopRequestedSince(targetId: string, plannedAt: number): Promise<boolean>;
}
