/**
 * Retry-After in the experiments of `diagnose`: reads the header (delta-seconds
 * or an HTTP date) and honours it inside an experiment's plan. After a refusal
 * that carries one, no shard sends a new upgrade until it has passed
 * (RampControl.holdOff); one that asks to wait past the experiment's budget
 * stops the plan instead, so the experiment can say so rather than ignore it.
 */
import type { ShardEvent } from '../engine/types.js';
import { round } from '../engine/units.js';
import type { RampControl } from '../engine/ramp-control.js';
import type { ConnectionRecord } from '../engine/types.js';

/** A Retry-After the experiment could not wait out: what it asked for and what the budget had left, in seconds. */
export interface RetryAfterBeyondBudget {
  seconds: number;
  secondsLeft: number;
}

/** A Retry-After of `seconds` the budget cannot wait out, with the `secondsLeft` of it to a tenth of a second. */
export function beyondBudget(seconds: number, secondsLeft: number): RetryAfterBeyondBudget {
  return { seconds, secondsLeft: Math.max(0, round(secondsLeft, 1)) };
}

/**
 * Seconds a Retry-After value asks for: delta-seconds or an HTTP date relative to `at`; null when it does not parse.
 */
export function retryAfterSeconds(value: string, at: number): number | null {
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - at) / 1000);
}

/** Seconds a refused record's Retry-After asks for, from when the refusal came; null without one. */
export function retryAfterOf(record: ConnectionRecord): number | null {
  return record.retryAfter === undefined ? null : retryAfterSeconds(record.retryAfter, record.settledAt);
}

/**
 * A shard-event listener that honours Retry-After through `control`: each
 * refusal asking to wait holds new upgrades off until it has passed; one
 * that would end after `secondsLeft()` stops the plan and is handed to
 * `onBeyondBudget` (the first only).
 */
export function honourRetryAfter(
  control: RampControl,
  now: () => number,
  secondsLeft: () => number,
  onBeyondBudget: (beyond: RetryAfterBeyondBudget) => void,
): (event: ShardEvent) => void {
  return (event) => {
    if (event.type !== 'settled' || event.record.outcome !== 'rejected') return;
    const seconds = retryAfterOf(event.record);
    if (seconds === null || seconds <= 0) return;
    const until = event.record.settledAt + seconds * 1000;
    const left = secondsLeft();
    if ((until - now()) / 1000 > left) {
      if (control.signal.aborted) return;
      onBeyondBudget(beyondBudget(seconds, left));
      control.abort({
        failureClass: 'interrupted',
        message: `Retry-After ${seconds} s is beyond the experiment budget`,
      });
      return;
    }
    control.holdOff(until);
  };
}

/** Why an experiment stopped at a Retry-After it could not wait out, in the words of its `undetermined` finding. */
export function retryAfterReason(beyond: RetryAfterBeyondBudget, budgetSeconds: number): string {
  return (
    `the target asked to wait ${beyond.seconds} s (Retry-After) before the next upgrade, longer than the ` +
    `${beyond.secondsLeft} s left of the experiment budget (--experiment-budget ${budgetSeconds}); raise the ` +
    'budget to wait it out'
  );
}
