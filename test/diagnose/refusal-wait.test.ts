// Tests of refusals that come only after a wait: how long an attempt holds for them, and when they are a queue.
import { describe, expect, it } from 'vitest';
import type { AttemptObservation } from '../../functions/diagnose/attempt-observation.js';
import { queueSecondsOf, settleSecondsFor } from '../../functions/diagnose/refusal-wait.js';

const waited = (min: number, median: number, max: number, overrides: Partial<AttemptObservation> = {}) =>
  ({
    refused: 5,
    unanswered: false,
    byClass: { 'handshake-rejected': 5 },
    refusalSeconds: { min, median, max },
    slowestOpenSeconds: 0.004,
    ...overrides,
  }) as AttemptObservation;

describe('settleSecondsFor', () => {
  it('holds 0.5 s for refusals that come at once, a quarter more than the slowest for late ones', () => {
    expect(settleSecondsFor(waited(0.001, 0.001, 0.002), 10)).toBe(0.5);
    expect(settleSecondsFor(waited(1.9, 2, 2.1), 10)).toBeCloseTo(2.875, 5);
  });

  it('never past the handshake timeout, and to it for unanswered upgrades', () => {
    expect(settleSecondsFor(waited(8, 9, 9.5), 5)).toBe(5.25);
    expect(settleSecondsFor(waited(5, 5, 5, { unanswered: true }), 5)).toBe(5.25);
  });
});

describe('queueSecondsOf', () => {
  it('is the median wait when every refusal at every rate came only after one', () => {
    expect(queueSecondsOf([waited(0.98, 1.01, 1.04), waited(0.99, 1.02, 1.03)])).toBe(1);
  });

  it('is null when any refusal came at once, as long as a handshake, or unanswered', () => {
    expect(queueSecondsOf([waited(0.98, 1.01, 1.04), waited(0.001, 0.5, 1)])).toBeNull();
    expect(queueSecondsOf([waited(0.3, 0.3, 0.3, { slowestOpenSeconds: 0.2 })])).toBeNull();
    expect(queueSecondsOf([waited(1, 1, 1, { byClass: { 'handshake-timeout': 5 }, unanswered: true })])).toBeNull();
  });
});
