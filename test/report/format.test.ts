import { describe, expect, it } from 'vitest';
import {
  describeCeiling,
  explainRun,
  formatBaseline,
  formatCeiling,
  formatChange,
  formatLatency,
  formatMs,
  formatPercent,
  formatUtc,
} from '../../functions/report/format.js';
import { loadRecordedRun } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');
const held = loadRecordedRun('held');

describe('formatCeiling', () => {
  it('gives the value, >= when the plan maximum held, and a dash without a ceiling', () => {
    expect(formatCeiling({ value: 150, reached: true })).toBe('150');
    expect(formatCeiling({ value: 200, reached: false })).toBe('>= 200');
    expect(formatCeiling({ value: null, reached: false })).toBe('–');
  });
});

describe('describeCeiling', () => {
  it('says how long the ceiling held, or that no limit was found, or that none was measured', () => {
    expect(describeCeiling(cap)).toBe(
      `${cap.ceiling.value} concurrent connections (held ${cap.settings.holdSeconds} s within tolerance)`,
    );
    expect(describeCeiling(held)).toBe(
      `>= ${held.ceiling.value} (the plan's maximum held ${held.settings.holdSeconds} s; no limit found)`,
    );
    expect(describeCeiling(loadRecordedRun('idle-timeout'))).toBe('not measured');
  });

  it("leaves the hold out without settings, as for a deployed run's verdict", () => {
    expect(describeCeiling({ ceiling: { value: 1500, reached: true } })).toBe('1500 concurrent connections');
    expect(describeCeiling({ ceiling: { value: 200, reached: false } })).toBe(
      ">= 200 (the plan's maximum held; no limit found)",
    );
  });
});

describe('explainRun', () => {
  it('adds the limiting factor summary only when the verdict reason does not already hold it', () => {
    const regressed = { ...cap, verdictReason: 'Ceiling 60 is 50 % under the baseline of 120.' };
    expect(explainRun(regressed)).toEqual([regressed.verdictReason, cap.limitingFactor?.summary]);
    expect(explainRun(cap)).toEqual([cap.verdictReason]);
    expect(explainRun(loadRecordedRun('handshake-rate-limit')).length).toBe(1);
    expect(explainRun(held)).toEqual([held.verdictReason]);
  });
});

describe('formatMs', () => {
  it('rounds to one decimal or gives a dash', () => {
    expect(formatMs(12.345)).toBe('12.3');
    expect(formatMs(null)).toBe('–');
  });
});

describe('formatLatency', () => {
  it('joins p50, p95 and p99', () => {
    expect(formatLatency({ p50: 1, p95: 2.25, p99: null })).toBe('1.0 / 2.3 / –');
  });
});

describe('formatChange', () => {
  it('signs the change and keeps at most one decimal', () => {
    expect(formatChange(-0.25)).toBe('-25 %');
    expect(formatChange(1 / 12)).toBe('+8.3 %');
    expect(formatChange(0)).toBe('0 %');
    expect(formatChange(-0.0001)).toBe('0 %');
  });
});

describe('formatPercent', () => {
  it('keeps at most one decimal', () => {
    expect(formatPercent(2 / 3)).toBe('66.7 %');
    expect(formatPercent(1)).toBe('100 %');
  });
});

describe('formatBaseline', () => {
  it('gives the baseline, the run against it and the regression threshold', () => {
    expect(formatBaseline({ value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 })).toBe(
      '200 (median of 7 earlier runs): this run is 75 % of it; under 180 is a regression',
    );
    expect(formatBaseline({ value: 90, runs: 1, ratio: null, regressionTolerance: 0.2 })).toBe(
      '90 (median of 1 earlier run): no ceiling to compare; under 72 is a regression',
    );
  });
});

describe('formatUtc', () => {
  it('gives an ISO time as date, time and UTC', () => {
    expect(formatUtc('2025-03-01T10:00:00.500Z')).toBe('2025-03-01 10:00:00 UTC');
  });
});
