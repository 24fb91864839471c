// Tests of the gates of diagnose: the ramp's own below-floor or regressed stays so, and when not even its first stage
// held, the ceiling the diagnosis settled (or, to fail a gate, a count limit's count) is judged as run judges one.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../functions/diagnose/findings.js';
import { judgeGate } from '../../functions/diagnose/gate.js';
import { makeFinding } from '../../functions/diagnose/report.js';
import type { RunResult } from '../../functions/engine/types.js';
import { cappedRun } from '../support/run-results.js';

/** A run whose first stage of 10 did not hold, with a floor and a baseline as given. */
const firstStageFailed = (minCeiling: number | undefined, baseline: RunResult['baseline']): RunResult => ({
  ...cappedRun,
  verdict: 'inconclusive',
  verdictReason: 'Concurrency cap at 5. Not even the first stage (10) held.',
  ceiling: { value: null, reached: true },
  settings: { ...cappedRun.settings, stages: [10, 20], ...(minCeiling !== undefined ? { minCeiling } : {}) },
  baseline,
});
const settingsWithoutFloor = (): RunResult['settings'] => {
  const { minCeiling: _floor, ...settings } = cappedRun.settings;
  return settings;
};

const exact = (value: number): Finding =>
  makeFinding({
    kind: 'exact-ceiling',
    values: { value, failsAt: value + 1, resolution: 1, steps: 0 },
    experiment: 'refinement',
    evidence: {},
    probeSeconds: 0,
  });
const cap = (count: number): Finding =>
  makeFinding({
    kind: 'concurrency-cap',
    values: { count, rates: [100, 50, 25] },
    experiment: 'rate-or-count',
    evidence: { statuses: { '503': 10 } },
    probeSeconds: 1,
  });

describe('judgeGate', () => {
  it("keeps the ramp's own gate verdict, whatever the diagnosis found", () => {
    expect(judgeGate(cappedRun, [exact(190)])).toEqual({
      verdict: 'regressed',
      ceiling: 150,
      reason: cappedRun.verdictReason,
    });
    expect(judgeGate({ ...cappedRun, verdict: 'ok' }, [])).toEqual({ verdict: 'passed', ceiling: 150, reason: null });
  });

  it('fails --min-ceiling on the exact ceiling the diagnosis settled when not even the first stage held', () => {
    expect(judgeGate(firstStageFailed(15, null), [cap(5), exact(5)])).toEqual({
      verdict: 'below-floor',
      ceiling: 5,
      reason:
        "Ceiling 5 is under the required minimum 15: not even the ramp's first stage held, and the diagnosis " +
        'settled 5.',
    });
  });

  it('fails --min-ceiling on a count limit alone, which no ceiling can exceed, and passes nothing on it', () => {
    expect(judgeGate(firstStageFailed(15, null), [cap(5)])).toMatchObject({
      verdict: 'below-floor',
      reason: expect.stringContaining('Ceiling at most 5 is under the required minimum 15') as unknown,
    });
    expect(judgeGate(firstStageFailed(4, null), [cap(5)])).toBeNull();
    expect(judgeGate(firstStageFailed(4, null), [cap(5), exact(5)])).toEqual({
      verdict: 'passed',
      ceiling: 5,
      reason: null,
    });
  });

  it('fails the regression gate on the settled ceiling against the baseline', () => {
    const baseline = { value: 10, runs: 3, ratio: null, regressionTolerance: 0.1 };
    const run = { ...firstStageFailed(undefined, baseline), settings: settingsWithoutFloor() };
    expect(judgeGate(run, [cap(5), exact(5)])).toMatchObject({
      verdict: 'regressed',
      ceiling: 5,
      reason: expect.stringContaining('Ceiling 5 is 50 % under the baseline of 10') as unknown,
    });
  });

  it('judges nothing for a failed run, or an inconclusive one with no ceiling settled', () => {
    expect(judgeGate({ ...cappedRun, verdict: 'failed' }, [])).toBeNull();
    expect(judgeGate(firstStageFailed(15, null), [])).toBeNull();
  });
});
