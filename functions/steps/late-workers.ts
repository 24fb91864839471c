/**
 * Workers that started late, and what that does to a run. Every worker opens
 * its share on the plan's wall-clock schedule; one whose cold start outlasted
 * the start delay begins late, so its share of the first stage is held for
 * less than the plan's hold (or not at all within it). The record step says
 * so in the run ("worker 3 started 4.2 s after the planned start"), and when
 * the first stage's hold was cut by more than a tenth the run cannot claim a
 * ceiling: it is `inconclusive` with that reason instead of the advice to
 * raise the hold. Pure.
 */
import { formatMsAsSeconds, formatSeconds } from '../engine/units.js';
import type { RunResult } from '../engine/types.js';
import { WORKER_START_DELAY_SECONDS } from '../config/worker-budget.js';
import { isFailedShard, type FailedShard, type WorkerOutput } from './step-payloads.js';

/** A worker ready more than this long after the planned start is late (clock and scheduling jitter stay under it). */
export const LATE_START_THRESHOLD_MS = 1000;

/** Share of the hold a late start may cut before the run cannot claim a ceiling. */
export const LATE_START_HOLD_SHARE = 0.1;

/** A worker that started late, and by how much. */
export interface LateWorker {
  shard: number;
  lateMs: number;
}

/** The workers of `results` that reported a late start, latest first. */
export function lateWorkersOf(results: ReadonlyArray<WorkerOutput | FailedShard>): LateWorker[] {
  return results
    .flatMap((result) =>
      !isFailedShard(result) && result.startedLateMs !== undefined
        ? [{ shard: result.shard, lateMs: result.startedLateMs }]
        : [],
    )
    .sort((a, b) => b.lateMs - a.lateMs);
}

/**
 * `run` with its late workers said: nothing changes without one; a start
 * that cut the first stage's hold by at most {@link LATE_START_HOLD_SHARE}
 * (or a run that failed anyway) is named after the verdict's reason; a later
 * one makes the run `inconclusive` (no ceiling, no ratio) with the late
 * workers as the reason.
 */
export function reviewLateWorkers(run: RunResult, late: readonly LateWorker[], holdSeconds: number): RunResult {
  const latest = late[0];
  if (!latest) return run;
  const started = late.map((worker) => `worker ${worker.shard} started ${formatMsAsSeconds(worker.lateMs)}`).join(', ');
  const sentence = `${capitalised(started)} after the planned start`;
  const heldSeconds = Math.max(0, holdSeconds - latest.lateMs / 1000);
  const share = late.length === 1 ? 'its share' : `worker ${latest.shard}'s share`;
  if (run.verdict === 'failed' || latest.lateMs <= holdSeconds * 1000 * LATE_START_HOLD_SHARE) {
    return {
      ...run,
      verdictReason:
        `${run.verdictReason} ${sentence}: ${share} of stage 1 was held ${formatSeconds(heldSeconds)} of ` +
        `${formatSeconds(holdSeconds)}.`,
    };
  }
  return {
    ...run,
    verdict: 'inconclusive',
    verdictReason:
      `${sentence}, so ${share} of stage 1 was held ${formatSeconds(heldSeconds)} of ${formatSeconds(holdSeconds)}` +
      ': the workers did not move together and the run cannot claim a ceiling. Its cold start outlasted the ' +
      `${WORKER_START_DELAY_SECONDS} s start delay; run it again (ws-ceiling invoke), and if it repeats, see ` +
      'docs/deployed.md "Late workers".',
    ceiling: { value: null, reached: false },
    baseline: run.baseline && { ...run.baseline, ratio: null },
  };
}

/** `text` with its first letter in upper case. */
function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
