import { describe, expect, it } from 'vitest';
import {
  ALARM_MAX_EVALUATION_RANGE_SECONDS as MAX_EVALUATION_RANGE_SECONDS,
  ALARM_MAX_PERIOD_SECONDS as MAX_ALARM_PERIOD_SECONDS,
} from '../../functions/config/aws-limits.js';
import { missingRunWindow } from '../../lib/alarm-window.js';

describe('missingRunWindow', () => {
  it.each([
    [1, 3_600, 1],
    [24, 86_400, 1],
    [36, 64_800, 2],
    [48, 86_400, 2],
    [80, 72_000, 4],
    [167, 85_920, 7],
    [168, 86_400, 7],
  ])('covers %i h with periods of %i s × %i', (hours, periodSeconds, evaluationPeriods) => {
    expect(missingRunWindow(hours)).toEqual({ periodSeconds, evaluationPeriods });
  });

  it('stays within CloudWatch limits and covers the whole window for every allowed hour count', () => {
    for (let hours = 1; hours <= 168; hours += 1) {
      const { periodSeconds, evaluationPeriods } = missingRunWindow(hours);
      expect(periodSeconds % 60).toBe(0);
      expect(periodSeconds).toBeGreaterThanOrEqual(3_600);
      expect(periodSeconds).toBeLessThanOrEqual(MAX_ALARM_PERIOD_SECONDS);
      expect(periodSeconds * evaluationPeriods).toBeGreaterThanOrEqual(hours * 3_600);
      expect(periodSeconds * evaluationPeriods).toBeLessThanOrEqual(MAX_EVALUATION_RANGE_SECONDS);
      expect(periodSeconds * evaluationPeriods - hours * 3_600).toBeLessThan(60 * evaluationPeriods);
    }
  });

  it('refuses a window CloudWatch cannot evaluate', () => {
    expect(() => missingRunWindow(0.5)).toThrow(/expectedEveryHours must be from 1 to 168 hours, got 0.5/);
    expect(() => missingRunWindow(169)).toThrow(/got 169/);
    expect(() => missingRunWindow(Number.NaN)).toThrow(/got NaN/);
  });
});
