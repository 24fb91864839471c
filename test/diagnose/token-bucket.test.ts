import { describe, expect, it } from 'vitest';
import {
  fitTokenBucket,
  roughBucket,
  roughFit,
  stretchesOf,
  upgradesUntilRefused,
  type BucketEvidence,
} from '../../functions/diagnose/token-bucket.js';
import { opened, refused } from '../support/records.js';

const evidence = (overrides: Partial<BucketEvidence>): BucketEvidence => ({
  rate: 100,
  refused: 10,
  fromRefill: true,
  firstStretch: { opened: 30, seconds: 0.3 },
  stretchesAfterWait: [],
  steady: { opened: 0, seconds: 0.1 },
  ...overrides,
});

/** A stretch that a full bucket (refill `perSecond`, size `burst`) lets through at `rate`, as the fit models it. */
function stretchFromFull(bucket: { perSecond: number; burst: number }, rate: number, seconds: number) {
  return { opened: bucket.burst - 0.5 + bucket.perSecond * (seconds - 1 / (2 * rate)), seconds };
}

describe('stretchesOf', () => {
  it('measures the first stretch up to the first refusal, and each stretch after a Retry-After waited out', () => {
    const records = [
      opened(0, 0),
      opened(0, 100),
      opened(0, 200),
      refused(0, 300, 429, '1'),
      opened(0, 1400),
      opened(0, 1500),
      refused(0, 1600, 429, '1'),
      opened(0, 1700),
      refused(0, 1800, 429),
    ];
    const refusals = new Set(records.filter((record) => record.outcome === 'rejected'));
    expect(stretchesOf(records, refusals)).toEqual({
      firstStretch: { opened: 3, seconds: 0.3 },
      stretchesAfterWait: [{ opened: 2, seconds: 0.2 }],
      waits: 1,
    });
  });

  it('has no first stretch when nothing was refused', () => {
    const records = [opened(0, 0), opened(0, 100)];
    expect(stretchesOf(records, new Set())).toEqual({ firstStretch: null, stretchesAfterWait: [], waits: 0 });
  });

  it('does not count a pause shorter than the Retry-After asked for as a wait', () => {
    const records = [opened(0, 0), refused(0, 100, 429, '2'), opened(0, 600), refused(0, 700, 429)];
    const refusals = new Set(records.filter((record) => record.outcome === 'rejected'));
    expect(stretchesOf(records, refusals).waits).toBe(0);
  });
});

describe('fitTokenBucket', () => {
  it('reads the refill from the steady stretch between refusals and the burst from the first stretch', () => {
    const fit = fitTokenBucket([evidence({ steady: { opened: 20, seconds: 1 } })]);
    expect(fit?.perSecond).toBe(20);
    // 30 let through in 0.3 s at 100/s: 30 − 20 × 0.3 + (1 + 20 / 100) / 2.
    expect(fit?.burst).toBeCloseTo(24.6, 9);
  });

  it('puts a line through stretches from a full bucket at two rates: refill the slope, burst the intercept', () => {
    const bucket = { perSecond: 20, burst: 10 };
    const fit = fitTokenBucket([
      evidence({ rate: 100, firstStretch: stretchFromFull(bucket, 100, 0.5) }),
      evidence({ rate: 50, firstStretch: stretchFromFull(bucket, 50, 1) }),
    ]);
    expect(fit?.perSecond).toBeCloseTo(20, 9);
    expect(fit?.burst).toBeCloseTo(10, 9);
  });

  it('declines with too few handshakes between refusals and stretches at one rate only', () => {
    expect(fitTokenBucket([evidence({ steady: { opened: 3, seconds: 0.5 } })])).toBeUndefined();
    expect(fitTokenBucket([evidence({}), evidence({ firstStretch: { opened: 40, seconds: 0.4 } })])).toBeUndefined();
  });
});

describe('roughBucket', () => {
  it('fits from as few as two handshakes between refusals', () => {
    const few = evidence({ steady: { opened: 4, seconds: 0.5 } });
    expect(fitTokenBucket([few])).toBeUndefined();
    expect(roughFit([few])?.perSecond).toBe(8);
    expect(roughBucket([few]).perSecond).toBe(8);
  });

  it('falls back to the fastest rate that passed, or half the slowest refused, and the most let through', () => {
    const refusedAt = (rate: number, opened: number) =>
      evidence({ rate, fromRefill: false, firstStretch: { opened, seconds: 1 } });
    const passed = evidence({ rate: 25, refused: 0, firstStretch: null });
    expect(roughBucket([refusedAt(100, 12), refusedAt(50, 30), passed])).toEqual({ perSecond: 25, burst: 30 });
    expect(roughBucket([refusedAt(100, 12), refusedAt(50, 30)])).toEqual({ perSecond: 25, burst: 30 });
    expect(roughBucket([refusedAt(100, 0)]).burst).toBe(1);
  });
});

describe('upgradesUntilRefused', () => {
  it('gives burst × rate / (rate − refill), and no end when the bucket refills as fast as upgrades come', () => {
    expect(upgradesUntilRefused(60, { perSecond: 20, burst: 30 })).toBe(45);
    expect(upgradesUntilRefused(20, { perSecond: 20, burst: 30 })).toBe(Number.POSITIVE_INFINITY);
  });
});
