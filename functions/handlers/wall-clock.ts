/**
 * The clock a worker reads the plan's stage times with: wall-clock time
 * (epoch milliseconds, the plan step's `Date.now()` on another machine, both
 * kept by NTP), read through the monotonic high-resolution timer so it never
 * steps backwards within an invocation. Its anchor to the wall clock is
 * checked at every invocation and taken again when it has drifted: a Lambda
 * environment lives for hours and is frozen between invocations, and a
 * monotonic timer need not follow the wall clock's corrections or count the
 * frozen time, so `performance.timeOrigin + performance.now()` alone can
 * drift from the clock the stages were planned on and start a warm worker
 * late. Invocations of one process share the anchor while it holds, so their
 * records order the same way on one timeline.
 */
import { performance } from 'node:perf_hooks';

/** Longest the anchoring waits for the wall clock's next millisecond. */
const ANCHOR_WAIT_MS = 3;

/** Drift from the wall clock past which the anchor is taken again, milliseconds. */
const MAX_DRIFT_MS = 2;

/** Wall-clock time minus monotonic time, as last taken; undefined before the first invocation. */
let anchor: number | undefined;

/**
 * A clock on the wall clock: epoch milliseconds, sub-millisecond, monotonic,
 * on the process's anchor, taken again first when it has drifted more than
 * {@link MAX_DRIFT_MS} from `Date.now()`.
 */
export function invocationClock(): () => number {
  if (anchor === undefined || Math.abs(anchor + performance.now() - Date.now()) > MAX_DRIFT_MS) {
    anchor = preciseAnchor();
  }
  const fixed = anchor;
  return () => fixed + performance.now();
}

/**
 * The wall clock minus the monotonic one, taken as the wall clock's
 * millisecond turns (a wait of at most a millisecond), so it is exact to
 * microseconds rather than to the millisecond `Date.now()` counts in.
 */
function preciseAnchor(): number {
  const first = Date.now();
  const giveUpAt = performance.now() + ANCHOR_WAIT_MS;
  let wall = first;
  let monotonic = performance.now();
  while (wall === first && monotonic < giveUpAt) {
    wall = Date.now();
    monotonic = performance.now();
  }
  return wall - monotonic;
}
