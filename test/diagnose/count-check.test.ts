// Tests of the count check's rule: a count limit only when N − k connections held open stay open and each refill
// lets exactly the k free slots in, at the same count, before and after the first refill's connections closed.
import { describe, expect, it } from 'vitest';
import type { AttemptObservation } from '../../functions/diagnose/attempt-observation.js';
import { judgeCountCheck, refillPlan, type CountCheckEvidence } from '../../functions/diagnose/count-check.js';

const refill = (opened: number, overrides: Partial<AttemptObservation> = {}): AttemptObservation => ({
  rate: 100,
  attempted: 5,
  opened,
  refused: 5 - opened,
  byStatus: { '503': 5 - opened },
  byClass: { 'handshake-rejected': 5 - opened },
  retryAfter: [],
  openBeforeFirstRefusal: opened === 5 ? null : 18 + opened,
  openedAfterFirstRefusal: 0,
  firstStretch: null,
  stretchesAfterWait: [],
  waits: 0,
  steady: { opened: 0, seconds: 0 },
  fromRefill: false,
  sustainedPerSecond: null,
  burst: null,
  lastRefusalAt: null,
  retryAfterSeconds: null,
  unanswered: false,
  refusalSeconds: null,
  slowestOpenSeconds: 0.002,
  tailByStatus: {},
  ...overrides,
});

const evidence = (
  refills: AttemptObservation[],
  held: Partial<CountCheckEvidence['held']> = {},
): CountCheckEvidence => ({
  count: 20,
  held: { target: 18, opened: 18, refused: 0, closedEarly: 0, ...held },
  slots: 2,
  refills,
});

describe('refillPlan', () => {
  it('holds all but about a tenth of the count open, and tries a few more than the free slots', () => {
    expect(refillPlan(20)).toEqual({ held: 18, slots: 2, upgrades: 5 });
    expect(refillPlan(150)).toEqual({ held: 135, slots: 15, upgrades: 23 });
    expect(refillPlan(3)).toEqual({ held: 2, slots: 1, upgrades: 4 });
    expect(refillPlan(1)).toEqual({ held: 0, slots: 1, upgrades: 4 });
  });
});

describe('judgeCountCheck', () => {
  it('confirms a count when both refills let the free slots in and were refused at the count', () => {
    expect(judgeCountCheck(evidence([refill(2), refill(2)]))).toEqual({ kind: 'count' });
  });

  it('says the refusals follow time when closing the first refill freed no slot (a window still full)', () => {
    const outcome = judgeCountCheck(evidence([refill(2), refill(0)]));
    expect(outcome.kind).toBe('time');
    expect(outcome).toMatchObject({
      reason: expect.stringContaining('closing the 2 connections of the first refill freed no slot') as unknown,
    });
  });

  it('says the refusals follow time when a refill let more in than slots were free (a window moved on)', () => {
    expect(judgeCountCheck(evidence([refill(2), refill(5)])).kind).toBe('time');
    expect(judgeCountCheck(evidence([refill(2, { openedAfterFirstRefusal: 1 }), refill(2)])).kind).toBe('time');
  });

  it('cannot tell when the connections held open did not all open or did not stay open', () => {
    expect(judgeCountCheck(evidence([refill(2), refill(2)], { opened: 15, refused: 3 })).kind).toBe('undetermined');
    expect(judgeCountCheck(evidence([refill(2), refill(2)], { closedEarly: 4 }))).toEqual({
      kind: 'undetermined',
      reason: '4 of the 18 connections held open were closed by the target',
    });
  });

  it('cannot tell when a refill was refused at another count', () => {
    expect(judgeCountCheck(evidence([refill(2), refill(2, { openBeforeFirstRefusal: 25 })])).kind).toBe('undetermined');
  });
});
