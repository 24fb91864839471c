import { describe, expect, it } from 'vitest';
import { collectFailures } from '../../functions/engine/failures.js';
import {
  buildRunTimeline,
  MAX_MARKED_FAILURES_PER_KIND,
  MAX_TIMELINE_POINTS,
} from '../../functions/engine/run-timeline.js';
import { OpenTimeline } from '../../functions/engine/timeline.js';
import { opened, planOf, refused, stagesOf, T0 } from '../support/records.js';

describe('buildRunTimeline', () => {
  it('keeps every step of a small run with its failures and stage windows', () => {
    const probePlan = planOf(stagesOf([2, 4], 1_000, 1_000));
    const records = [
      opened(0, 100),
      opened(0, 200),
      opened(1, 1_100),
      opened(1, 1_200, { at: 1_500, code: 1006 }),
      refused(1, 1_300, 503),
    ];
    const events = collectFailures(records, probePlan.stages);
    const result = buildRunTimeline(T0, probePlan.stages, records, events, new OpenTimeline(records));
    expect(result.open).toEqual([
      [0, 0],
      [100, 1],
      [200, 2],
      [1_100, 3],
      [1_200, 4],
      [1_500, 3],
    ]);
    expect(result.failures).toEqual([
      { atMs: 1_300, failureClass: 'handshake-rejected', open: 4, status: 503 },
      { atMs: 1_500, failureClass: 'abnormal-closure', open: 4, closeCode: 1006 },
    ]);
    expect(result.failuresOmitted).toBe(0);
    expect(result.stages.map((stage) => stage.target)).toEqual([2, 4]);
    expect(result.stages[0]?.startMs).toBe(probePlan.stages[0]!.startAt - T0);
  });

  it('samples a long series and bounds the failures marked per class and code', () => {
    const probePlan = planOf(stagesOf([3_000], 3_000, 1_000));
    const records = [
      ...Array.from({ length: 2_000 }, (_, i) => opened(0, 10 + i)),
      ...Array.from({ length: 100 }, (_, i) => refused(0, 3_000 + i, 503)),
    ];
    const events = collectFailures(records, probePlan.stages);
    const result = buildRunTimeline(T0, probePlan.stages, records, events, new OpenTimeline(records));
    expect(result.open).toHaveLength(MAX_TIMELINE_POINTS + 1);
    expect(result.open.at(-1)).toEqual([2_009, 2_000]);
    expect(result.failures).toHaveLength(MAX_MARKED_FAILURES_PER_KIND);
    expect(result.failuresOmitted).toBe(100 - MAX_MARKED_FAILURES_PER_KIND);
  });
});
