import { describe, expect, it } from 'vitest';
import { buildTrend, trendScale } from '../../functions/report/trend.js';
import { rerun, withBaseline } from '../fixtures/run-variants.js';
import { loadRecordedRun, SCENARIOS } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');
const held = loadRecordedRun('held');

describe('buildTrend', () => {
  it('gives one row per run in the order given, with ceiling, baseline, ratio, verdict and cause', () => {
    const newest = withBaseline(rerun(cap, 'run-3', '2025-03-03T10:00:00.000Z', { verdict: 'regressed' }), 200, 4);
    const older = rerun(cap, 'run-2', '2025-03-02T10:00:00.000Z');
    const rows = buildTrend([newest, older]);
    expect(rows.map((row) => row.runId)).toEqual(['run-3', 'run-2']);
    expect(rows[0]).toMatchObject({
      targetId: cap.targetId,
      startedAt: '2025-03-03T10:00:00.000Z',
      verdict: 'regressed',
      ceiling: cap.ceiling,
      dropOnset: cap.dropOnset,
      baseline: 200,
      ratio: (cap.ceiling.value as number) / 200,
      regressionTolerance: 0.1,
      limitingFactor: 'concurrency-cap',
      configHash: cap.configHash,
    });
    expect(rows[1]).toMatchObject({ baseline: null, ratio: null, regressionTolerance: null });
  });

  it('measures the change against the next older run of the same target and settings that found a limit', () => {
    const runs = [
      rerun(cap, 'run-4', '2025-03-04T10:00:00.000Z', { ceiling: { value: 120, reached: true } }),
      rerun(cap, 'other-target', '2025-03-03T12:00:00.000Z', {
        targetId: 'elsewhere',
        ceiling: { value: 10, reached: true },
      }),
      rerun(cap, 'other-settings', '2025-03-03T11:00:00.000Z', {
        configHash: 'different',
        ceiling: { value: 20, reached: true },
      }),
      rerun(cap, 'no-ceiling', '2025-03-03T10:00:00.000Z', { ceiling: { value: null, reached: false } }),
      rerun(cap, 'no-limit-found', '2025-03-02T10:00:00.000Z', { ceiling: { value: 300, reached: false } }),
      rerun(cap, 'run-1', '2025-03-01T10:00:00.000Z', { ceiling: { value: 160, reached: true } }),
    ];
    const change = Object.fromEntries(buildTrend(runs).map((row) => [row.runId, row.changeFromPrevious]));
    expect(change['run-4']).toBeCloseTo(-0.25);
    expect(change).toMatchObject({
      'other-target': null,
      'other-settings': null,
      'no-ceiling': null,
      'no-limit-found': null,
      'run-1': null,
    });
  });

  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'keeps the recorded %s run on the trend with its verdict, ceiling, onset and cause',
    (name) => {
      const run = loadRecordedRun(name);
      const [row] = buildTrend([run]);
      expect(row).toEqual({
        runId: run.runId,
        targetId: run.targetId,
        startedAt: run.startedAt,
        verdict: run.verdict,
        ceiling: run.ceiling,
        dropOnset: run.dropOnset,
        baseline: null,
        ratio: null,
        regressionTolerance: null,
        limitingFactor: run.limitingFactor?.kind ?? null,
        configHash: run.configHash,
        changeFromPrevious: null,
      });
    },
  );

  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'measures a change only when the recorded %s run and the one before both found a limit',
    (name) => {
      const run = loadRecordedRun(name);
      const [row] = buildTrend([run, rerun(run, 'before', '2000-01-01T00:00:00.000Z')]);
      expect(row?.changeFromPrevious).toBe(run.ceiling.reached ? 0 : null);
    },
  );
});

describe('trendScale', () => {
  it('is the largest ceiling or baseline of the rows', () => {
    expect(trendScale(buildTrend([cap, held]))).toBe(
      Math.max(cap.ceiling.value as number, held.ceiling.value as number),
    );
    expect(trendScale(buildTrend([withBaseline(cap, 400)]))).toBe(400);
  });

  it('is at least 1 when no row has a ceiling or baseline', () => {
    expect(trendScale(buildTrend([loadRecordedRun('unreachable')]))).toBe(1);
    expect(trendScale([])).toBe(1);
  });
});
