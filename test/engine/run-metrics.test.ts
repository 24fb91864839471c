import { describe, expect, it } from 'vitest';
import { METRIC } from '../../functions/engine/metric-names.js';
import { METRIC_UNITS, runDatapoints } from '../../functions/engine/run-metrics.js';
import type { RunResult } from '../../functions/engine/types.js';
import { cappedRun } from '../support/run-results.js';

const AT = new Date('2025-03-01T10:00:00.000Z');
const DIMENSIONS = { Target: 'chat-prod', Region: 'eu-west-1' };

/** name → [value, unit] of each datapoint, to compare whole sets at once. */
function byName(run: RunResult): Record<string, [number, string]> {
  return Object.fromEntries(runDatapoints(run).map((point) => [point.name, [point.value, point.unit]]));
}

describe('runDatapoints', () => {
  it('publishes every metric of a regressed run with a baseline, at its start time, with Target and Region', () => {
    const points = runDatapoints(cappedRun);
    expect(byName(cappedRun)).toEqual({
      ProbeSucceeded: [1, 'Count'],
      Ceiling: [150, 'Count'],
      CeilingToBaseline: [0.75, 'None'],
      DropOnset: [151, 'Count'],
      FailedConnections: [50, 'Count'],
      HandshakeP95: [12.5, 'Milliseconds'],
    });
    for (const point of points) {
      expect(point.timestamp).toEqual(AT);
      expect(point.dimensions).toEqual(DIMENSIONS);
    }
  });

  it('publishes no CeilingToBaseline without a baseline', () => {
    const names = Object.keys(byName({ ...cappedRun, verdict: 'ok', baseline: null }));
    expect(names).toEqual(['ProbeSucceeded', 'Ceiling', 'DropOnset', 'FailedConnections', 'HandshakeP95']);
  });

  it.each(['ok', 'below-floor'] as const)('counts a %s run as a successful probe with a ceiling', (verdict) => {
    expect(byName({ ...cappedRun, verdict })).toMatchObject({ ProbeSucceeded: [1, 'Count'], Ceiling: [150, 'Count'] });
  });

  it.each(['inconclusive', 'failed'] as const)(
    'publishes ProbeSucceeded 0 and no Ceiling nor ratio for a %s run',
    (verdict) => {
      const run: RunResult = {
        ...cappedRun,
        verdict,
        ceiling: { value: 150, reached: true },
        baseline: { value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 },
      };
      expect(byName(run)).toEqual({
        ProbeSucceeded: [0, 'Count'],
        DropOnset: [151, 'Count'],
        FailedConnections: [50, 'Count'],
        HandshakeP95: [12.5, 'Milliseconds'],
      });
    },
  );

  it('leaves out DropOnset and HandshakeP95 when they are unknown, and a ceiling that is null', () => {
    const run: RunResult = {
      ...cappedRun,
      verdict: 'ok',
      ceiling: { value: null, reached: false },
      dropOnset: null,
      handshakeMs: { p50: null, p95: null, p99: null },
      failures: { ...cappedRun.failures, total: 0 },
      baseline: null,
    };
    expect(byName(run)).toEqual({ ProbeSucceeded: [1, 'Count'], FailedConnections: [0, 'Count'] });
  });

  it('publishes a ceiling that was not reached (the plan held) with its value', () => {
    expect(byName({ ...cappedRun, ceiling: { value: 500, reached: false } })).toMatchObject({
      Ceiling: [500, 'Count'],
    });
  });
});

describe('METRIC_UNITS', () => {
  it('gives every metric a unit', () => {
    expect(Object.keys(METRIC_UNITS).sort()).toEqual(Object.values(METRIC).sort());
  });
});
