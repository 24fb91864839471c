import { describe, expect, it } from 'vitest';
import {
  applyRegression,
  ceilingRatio,
  comparableCeilings,
  completedCeiling,
  computeBaseline,
  describeRegression,
  isRegression,
  isSuccessfulVerdict,
  judgeAgainstHistory,
  regressionRatioThreshold,
  regressionThreshold,
} from '../../functions/engine/baseline.js';
import type { Baseline, RunResult, Verdict } from '../../functions/engine/types.js';
import { cappedRun } from '../support/run-results.js';

const SETTINGS = { baselineRuns: 7, regressionTolerance: 0.1 };
const HASH = 'hash-a';

/** The run being judged: started 2025-03-10, ceiling `value` reached, verdict ok, no baseline yet. */
function current(value: number | null, overrides: Partial<RunResult> = {}): RunResult {
  return {
    ...cappedRun,
    runId: 'run-now',
    targetId: 'chat-prod',
    startedAt: '2025-03-10T02:00:00.000Z',
    configHash: HASH,
    verdict: 'ok',
    verdictReason: 'Concurrency cap at 150.',
    ceiling: { value, reached: value !== null },
    baseline: null,
    ...overrides,
  };
}

/** An earlier run `daysBefore` days before the current one, completed with `value` unless overridden. */
function earlier(daysBefore: number, value: number | null, overrides: Partial<RunResult> = {}): RunResult {
  const startedAt = new Date(Date.parse('2025-03-10T02:00:00.000Z') - daysBefore * 86_400_000).toISOString();
  return current(value, { runId: `run-${daysBefore}`, startedAt, ...overrides });
}

/** `count` completed earlier runs, newest first, with the given ceilings (repeating the last one). */
function completed(ceilings: number[], count = ceilings.length): RunResult[] {
  return Array.from({ length: count }, (_, i) => earlier(i + 1, ceilings[Math.min(i, ceilings.length - 1)] ?? 0));
}

describe('computeBaseline and applyRegression over a table of histories', () => {
  it.each<{
    name: string;
    run: RunResult;
    history: RunResult[];
    settings?: { baselineRuns: number; regressionTolerance: number };
    baseline: Baseline | null;
    verdict: Verdict;
  }>([
    {
      name: 'no history: no baseline, the verdict stays ok',
      run: current(150),
      history: [],
      baseline: null,
      verdict: 'ok',
    },
    {
      name: 'two completed runs are too few (3 are required)',
      run: current(100),
      history: completed([200, 200]),
      baseline: null,
      verdict: 'ok',
    },
    {
      name: 'three completed runs are enough',
      run: current(150),
      history: completed([200, 210, 190]),
      baseline: { value: 200, runs: 3, ratio: 0.75, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'one run is enough when --baseline-runs is 1',
      run: current(150),
      history: completed([200]),
      settings: { baselineRuns: 1, regressionTolerance: 0.1 },
      baseline: { value: 200, runs: 1, ratio: 0.75, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'seven completed runs: the median of the newest seven, older ones ignored',
      run: current(150),
      history: [...completed([200, 220, 180, 200, 210, 190, 205]), earlier(30, 10), earlier(31, 10)],
      baseline: { value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'failed and inconclusive runs are excluded, even with a ceiling value',
      run: current(150),
      history: [
        earlier(1, null, { verdict: 'failed' }),
        earlier(2, 10, { verdict: 'inconclusive' }),
        earlier(3, 200),
        earlier(4, null, { verdict: 'inconclusive' }),
        earlier(5, 200),
        earlier(6, 10, { verdict: 'failed' }),
      ],
      baseline: null,
      verdict: 'ok',
    },
    {
      name: 'failed and inconclusive runs are skipped, the completed ones around them count',
      run: current(150),
      history: [
        earlier(1, null, { verdict: 'failed' }),
        earlier(2, 10, { verdict: 'inconclusive' }),
        earlier(3, 200),
        earlier(4, 220, { verdict: 'regressed' }),
        earlier(5, 180, { verdict: 'below-floor' }),
      ],
      baseline: { value: 200, runs: 3, ratio: 0.75, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'runs with another config hash are excluded',
      run: current(150),
      history: [
        earlier(1, 200),
        earlier(2, 200),
        earlier(3, 400, { configHash: 'hash-b' }),
        earlier(4, 400, { configHash: 'hash-b' }),
      ],
      baseline: null,
      verdict: 'ok',
    },
    {
      name: 'runs of another target, the run itself and later runs are excluded',
      run: current(150),
      history: [
        current(150),
        earlier(-1, 400),
        earlier(1, 400, { targetId: 'other' }),
        earlier(2, 200),
        earlier(3, 200),
      ],
      baseline: null,
      verdict: 'ok',
    },
    {
      name: 'exactly at the threshold (200 × 0.9 = 180) is not a regression',
      run: current(180),
      history: completed([200], 7),
      baseline: { value: 200, runs: 7, ratio: 0.9, regressionTolerance: 0.1 },
      verdict: 'ok',
    },
    {
      name: 'just under the threshold is a regression',
      run: current(179),
      history: completed([200], 7),
      baseline: { value: 200, runs: 7, ratio: 0.895, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'exactly at a threshold floating point puts above it (150 × 0.82 = 123.00000000000001) is not a regression',
      run: current(123),
      history: completed([150], 7),
      settings: { baselineRuns: 7, regressionTolerance: 0.18 },
      baseline: { value: 150, runs: 7, ratio: 0.82, regressionTolerance: 0.18 },
      verdict: 'ok',
    },
    {
      name: 'one connection under the threshold of a large baseline keeps its ratio under 1 − tolerance',
      run: current(17_999),
      history: completed([20_000], 7),
      baseline: { value: 20_000, runs: 7, ratio: 0.89995, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'the ratio is rounded to 12 decimals',
      run: current(100),
      history: completed([150], 7),
      settings: { baselineRuns: 7, regressionTolerance: 0.5 },
      baseline: { value: 150, runs: 7, ratio: 0.666666666667, regressionTolerance: 0.5 },
      verdict: 'ok',
    },
    {
      name: 'an even count takes the lower middle ceiling',
      run: current(150),
      history: completed([100, 200, 300, 400]),
      baseline: { value: 200, runs: 4, ratio: 0.75, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'below-floor stays below-floor when it also regressed',
      run: current(150, { verdict: 'below-floor', verdictReason: 'Ceiling 150 is under the required minimum 180.' }),
      history: completed([200], 7),
      baseline: { value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 },
      verdict: 'below-floor',
    },
    {
      name: 'a ceiling not reached (the plan held, >= 150) is a lower bound and never a regression',
      run: current(150, { ceiling: { value: 150, reached: false } }),
      history: completed([200], 7),
      baseline: { value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 },
      verdict: 'ok',
    },
    {
      name: 'earlier runs that held their whole plan count with their value',
      run: current(400),
      history: Array.from({ length: 7 }, (_, i) => earlier(i + 1, 500, { ceiling: { value: 500, reached: false } })),
      baseline: { value: 500, runs: 7, ratio: 0.8, regressionTolerance: 0.1 },
      verdict: 'regressed',
    },
    {
      name: 'an inconclusive run gets the baseline with no ratio and keeps its verdict',
      run: current(null, { verdict: 'inconclusive' }),
      history: completed([200], 7),
      baseline: { value: 200, runs: 7, ratio: null, regressionTolerance: 0.1 },
      verdict: 'inconclusive',
    },
    {
      name: 'a failed run keeps its verdict',
      run: current(null, { verdict: 'failed' }),
      history: completed([200], 7),
      baseline: { value: 200, runs: 7, ratio: null, regressionTolerance: 0.1 },
      verdict: 'failed',
    },
  ])('$name', ({ run, history, settings = SETTINGS, baseline, verdict }) => {
    expect(computeBaseline(run, history, settings)).toEqual(baseline);
    const judged = applyRegression(run, computeBaseline(run, history, settings));
    expect(judged.baseline).toEqual(baseline);
    expect(judged.verdict).toBe(verdict);
    if (verdict === run.verdict) expect(judged.verdictReason.startsWith(run.verdictReason)).toBe(true);
  });
});

describe('applyRegression', () => {
  const baseline: Baseline = { value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 };

  it('says how far under which baseline the ceiling fell, then keeps the cause', () => {
    const judged = applyRegression(current(150), baseline);
    expect(judged.verdict).toBe('regressed');
    expect(judged.verdictReason).toBe(
      'Ceiling 150 is 25 % under the baseline of 200 (median of 7 runs); tolerance 10 %. Concurrency cap at 150.',
    );
  });

  it('adds the regression to the reason of a below-floor run', () => {
    const run = current(150, {
      verdict: 'below-floor',
      verdictReason: 'Ceiling 150 is under the required minimum 180.',
    });
    expect(applyRegression(run, baseline).verdictReason).toBe(
      'Ceiling 150 is under the required minimum 180. Ceiling 150 is 25 % under the baseline of 200 (median of 7 ' +
        'runs); tolerance 10 %.',
    );
  });

  it('leaves the run as it is, baseline set to null, without a baseline', () => {
    expect(applyRegression(current(150), null)).toEqual(current(150));
  });

  it('does not change the run it is given', () => {
    const run = current(150);
    applyRegression(run, baseline);
    expect(run).toEqual(current(150));
  });
});

describe('judgeAgainstHistory', () => {
  it('computes the baseline from the history and judges the run against it', () => {
    const judged = judgeAgainstHistory(current(150), completed([200], 7), SETTINGS);
    expect(judged.verdict).toBe('regressed');
    expect(judged.baseline).toEqual({ value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 });
  });
});

describe('comparableCeilings', () => {
  it('returns the newest comparable ceilings first, whatever the order of the history', () => {
    const history = [earlier(3, 300), earlier(1, 100), earlier(2, 200, { verdict: 'failed' }), earlier(4, 400)];
    expect(comparableCeilings(current(150), history, 2)).toEqual([100, 300]);
  });
});

describe('completedCeiling', () => {
  it('is the ceiling of ok, regressed and below-floor runs, and null otherwise', () => {
    expect(completedCeiling(current(150))).toBe(150);
    expect(completedCeiling(current(150, { verdict: 'regressed' }))).toBe(150);
    expect(completedCeiling(current(150, { verdict: 'below-floor' }))).toBe(150);
    expect(completedCeiling(current(150, { verdict: 'inconclusive' }))).toBeNull();
    expect(completedCeiling(current(null))).toBeNull();
  });
});

describe('isSuccessfulVerdict', () => {
  it.each([
    ['ok', true],
    ['regressed', true],
    ['below-floor', true],
    ['inconclusive', false],
    ['failed', false],
  ] as const)('%s → %s', (verdict, expected) => {
    expect(isSuccessfulVerdict(verdict)).toBe(expected);
  });
});

describe('regressionThreshold', () => {
  it('is baseline × (1 − tolerance), free of floating-point noise', () => {
    expect(regressionThreshold({ value: 200, regressionTolerance: 0.1 })).toBe(180);
    expect(regressionThreshold({ value: 150, regressionTolerance: 0.18 })).toBe(123);
    expect(regressionThreshold({ value: 450, regressionTolerance: 0.125 })).toBe(393.75);
    expect(regressionThreshold({ value: 450, regressionTolerance: 0 })).toBe(450);
  });
});

describe('regressionRatioThreshold', () => {
  it.each([
    [0.18, 0.82],
    [0.41, 0.59],
    [0.57, 0.43],
    [0.7, 0.3],
    [0.83, 0.17],
    [0.95, 0.05],
    [0.1, 0.9],
  ])('is 1 − %f = %f exactly, without floating-point noise', (tolerance, threshold) => {
    expect(regressionRatioThreshold(tolerance)).toBe(threshold);
  });
});

describe('ceilingRatio', () => {
  it(
    'puts a regressed ceiling under the ratio threshold and any other at or over it, for every baseline up to ' +
      '100,000',
    () => {
      const mismatches: string[] = [];
      for (const regressionTolerance of [0.01, 0.1, 0.18, 0.41, 0.57, 0.7, 0.83, 0.95, 0.123456]) {
        const threshold = regressionRatioThreshold(regressionTolerance);
        for (let value = 1; value <= 100_000; value += 1) {
          const lowest = regressionThreshold({ value, regressionTolerance });
          for (const ceiling of [Math.ceil(lowest) - 1, Math.ceil(lowest)]) {
            if (ceiling < 0) continue;
            const regressed = ceiling < lowest;
            if (ceilingRatio(ceiling, value) < threshold !== regressed)
              mismatches.push(`${ceiling} / ${value} at ${regressionTolerance}`);
          }
        }
      }
      expect(mismatches.slice(0, 5)).toEqual([]);
    },
  );
});

describe('isRegression', () => {
  const baseline: Baseline = { value: 200, runs: 7, ratio: null, regressionTolerance: 0.1 };

  it('needs a baseline, a completed run and a reached ceiling under the threshold', () => {
    expect(isRegression(current(179), baseline)).toBe(true);
    expect(isRegression(current(180), baseline)).toBe(false);
    expect(isRegression(current(179), null)).toBe(false);
    expect(isRegression(current(179, { verdict: 'inconclusive' }), baseline)).toBe(false);
    expect(isRegression(current(179, { ceiling: { value: 179, reached: false } }), baseline)).toBe(false);
  });
});

describe('describeRegression', () => {
  it('rounds the fall and the tolerance to one decimal and counts one run in the singular', () => {
    expect(describeRegression(7, { value: 9, runs: 1, ratio: null, regressionTolerance: 0.125 })).toBe(
      'Ceiling 7 is 22.2 % under the baseline of 9 (median of 1 run); tolerance 12.5 %.',
    );
  });
});
