import { describe, expect, it } from 'vitest';
import { buildTrend, trendScale } from '../functions/report/trend.js';
import { recordedRun, rerun, withBaseline } from './support/report-fixtures.js';
import { cappedRun, heldRun } from './support/run-results.js';

const cap = recordedRun('concurrency-cap');

describe('buildTrend', () => {
  it('gives one row per run in the order given, with ceiling, baseline, ratio, verdict and cause', () => {
    const newest = withBaseline(rerun(cap, 'run-3', '2025-03-03T10:00:00.000Z', { verdict: 'regressed' }), 200, 4);
    const older = rerun(cap, 'run-2', '2025-03-02T10:00:00.000Z');
    const rows = buildTrend([newest, older]);
    expect(rows.map((row) => row.runId)).toEqual(['run-3', 'run-2']);
    expect(rows[0]).toMatchObject({
      targetId: 'demo',
      startedAt: '2025-03-03T10:00:00.000Z',
      verdict: 'regressed',
      ceiling: { value: 150, reached: true },
      dropOnset: 150,
      baseline: 200,
      ratio: 0.75,
      regressionTolerance: 0.1,
      limitingFactor: 'concurrency-cap',
      configHash: cap.configHash,
    });
    expect(rows[1]).toMatchObject({ baseline: null, ratio: null, regressionTolerance: null });
  });

  it('measures the change against the next older run of the same target and settings that found a limit', () => {
    const runs = [
      rerun(cap, 'run-4', '2025-03-04T10:00:00.000Z', { ceiling: { value: 120, reached: true } }),
      rerun(cap, 'other-target', '2025-03-03T12:00:00.000Z', { targetId: 'elsewhere', ceiling: { value: 10, reached: true } }),
      rerun(cap, 'other-settings', '2025-03-03T11:00:00.000Z', { configHash: 'different', ceiling: { value: 20, reached: true } }),
      rerun(cap, 'no-ceiling', '2025-03-03T10:00:00.000Z', { ceiling: { value: null, reached: false } }),
      rerun(cap, 'no-limit-found', '2025-03-02T10:00:00.000Z', { ceiling: { value: 300, reached: false } }),
      rerun(cap, 'run-1', '2025-03-01T10:00:00.000Z', { ceiling: { value: 160, reached: true } }),
    ];
    const change = Object.fromEntries(buildTrend(runs).map((row) => [row.runId, row.changeFromPrevious]));
    expect(change['run-4']).toBeCloseTo(-0.25);
    expect(change).toMatchObject({ 'other-target': null, 'other-settings': null, 'no-ceiling': null, 'no-limit-found': null, 'run-1': null });
  });

  it('keeps a run with no ceiling on the trend with its verdict and cause', () => {
    const [row] = buildTrend([recordedRun('idle-timeout')]);
    expect(row).toMatchObject({ verdict: 'inconclusive', ceiling: { value: null, reached: false }, limitingFactor: 'idle-timeout' });
  });

  it('marks a run that held every stage as not reached and without a cause', () => {
    const [row] = buildTrend([{ ...heldRun, ceiling: { value: 200, reached: false } }]);
    expect(row).toMatchObject({ ceiling: { value: 200, reached: false }, limitingFactor: null, dropOnset: null });
  });
});

describe('trendScale', () => {
  it('is the largest ceiling or baseline of the rows', () => {
    expect(trendScale(buildTrend([cappedRun, heldRun]))).toBe(200);
    expect(trendScale(buildTrend([withBaseline(cap, 400)]))).toBe(400);
  });

  it('is at least 1 when no row has a ceiling or baseline', () => {
    expect(trendScale(buildTrend([recordedRun('unreachable')]))).toBe(1);
    expect(trendScale([])).toBe(1);
  });
});
