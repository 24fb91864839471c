import { describe, expect, it } from 'vitest';
import {
  LATE_START_HOLD_SHARE,
  lateWorkersOf,
  reviewLateWorkers,
  type LateWorker,
} from '../../functions/steps/late-workers.js';
import { cappedRun } from '../support/run-results.js';

const HOLD_SECONDS = 60;

describe('lateWorkersOf', () => {
  it('lists the workers that reported a late start, latest first, and never a failed one', () => {
    const results = [
      { shard: 0, resultKey: 'k0', records: 1, opened: 1 },
      { shard: 1, resultKey: 'k1', records: 1, opened: 1, startedLateMs: 1500 },
      { shard: 2, failed: { error: 'Sandbox.Timedout', cause: '' } },
      { shard: 3, resultKey: 'k3', records: 1, opened: 1, startedLateMs: 4200 },
    ];
    expect(lateWorkersOf(results)).toEqual([
      { shard: 3, lateMs: 4200 },
      { shard: 1, lateMs: 1500 },
    ]);
  });
});

describe('reviewLateWorkers', () => {
  it('leaves a run whose workers started together as it is', () => {
    expect(reviewLateWorkers(cappedRun, [], HOLD_SECONDS)).toBe(cappedRun);
  });

  it('says a worker started late when it cut the first hold by a tenth or less, keeping the verdict', () => {
    const late: LateWorker[] = [{ shard: 3, lateMs: 4200 }];
    expect(4200).toBeLessThanOrEqual(HOLD_SECONDS * 1000 * LATE_START_HOLD_SHARE);
    const reviewed = reviewLateWorkers(cappedRun, late, HOLD_SECONDS);
    expect(reviewed.verdict).toBe(cappedRun.verdict);
    expect(reviewed.ceiling).toEqual(cappedRun.ceiling);
    expect(reviewed.verdictReason).toBe(
      `${cappedRun.verdictReason} Worker 3 started 4.2 s after the planned start: its share of stage 1 was held ` +
        '55.8 s of 60.0 s.',
    );
  });

  it(
    'makes the run inconclusive when a worker started later than a tenth of the hold, instead of the advice to ' +
      'raise the hold',
    () => {
      const late: LateWorker[] = [
        { shard: 3, lateMs: 75_000 },
        { shard: 1, lateMs: 2100 },
      ];
      const reviewed = reviewLateWorkers(cappedRun, late, HOLD_SECONDS);
      expect(reviewed).toMatchObject({
        verdict: 'inconclusive',
        ceiling: { value: null, reached: false },
        baseline: { ...cappedRun.baseline, ratio: null },
        limitingFactor: cappedRun.limitingFactor,
      });
      expect(reviewed.verdictReason).toBe(
        "Worker 3 started 75.0 s, worker 1 started 2.1 s after the planned start, so worker 3's share of stage 1 " +
          'was held 0.0 s of 60.0 s: the workers did not move together and the run cannot claim a ceiling. Its ' +
          'cold start outlasted the 20 s start delay; run it again (ws-ceiling invoke), and if it repeats, see ' +
          'docs/deployed.md "Late workers".',
      );
    },
  );

  it('only adds the sentence to a run that failed anyway', () => {
    const failed = { ...cappedRun, verdict: 'failed' as const, verdictReason: 'The target could not be reached.' };
    const reviewed = reviewLateWorkers(failed, [{ shard: 0, lateMs: 30_000 }], HOLD_SECONDS);
    expect(reviewed.verdict).toBe('failed');
    expect(reviewed.verdictReason).toBe(
      'The target could not be reached. Worker 0 started 30.0 s after the planned start: its share of stage 1 was ' +
        'held 30.0 s of 60.0 s.',
    );
  });
});
