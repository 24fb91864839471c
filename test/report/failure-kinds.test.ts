import { describe, expect, it } from 'vitest';
import { MAX_MARKED_FAILURES_PER_KIND } from '../../functions/engine/run-timeline.js';
import type { RunResult } from '../../functions/engine/types.js';
import { describeFailureKind, failureKinds } from '../../functions/report/failure-kinds.js';
import { loadRecordedRun, SCENARIOS } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');

/** The cap run as if a second kind (HTTP 429) had as many refusals as the 503s, so both reached the marking bound. */
function withSecondFullKind(run: RunResult): RunResult {
  const extra = run.timeline.failures.map((failure) => ({ ...failure, status: 429 }));
  const total = run.failures.total;
  return {
    ...run,
    failures: {
      ...run.failures,
      total: total * 2,
      byClass: { 'handshake-rejected': total * 2 },
      byStatus: { '503': total, '429': total },
    },
    timeline: {
      ...run.timeline,
      failures: [...run.timeline.failures, ...extra],
      failuresOmitted: run.timeline.failuresOmitted * 2,
    },
  };
}

describe('failureKinds', () => {
  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'counts every failure of the recorded %s run once, by class and code',
    (name) => {
      const run = loadRecordedRun(name);
      const kinds = failureKinds(run);
      expect(kinds.reduce((sum, kind) => sum + kind.count, 0)).toBe(run.failures.total);
      expect(kinds.every((kind) => !kind.atLeast)).toBe(true);
      for (const kind of kinds) expect(run.failures.byClass[kind.failureClass]).toBeGreaterThanOrEqual(kind.count);
    },
  );

  it('restores the count of the one kind that reached the marking bound from the failures left unmarked', () => {
    expect(cap.timeline.failures).toHaveLength(MAX_MARKED_FAILURES_PER_KIND);
    expect(failureKinds(cap)).toEqual([
      { failureClass: 'handshake-rejected', code: 'HTTP 503', count: cap.failures.total, atLeast: false },
    ]);
  });

  it('takes each full kind from the counts by code when several reached the bound', () => {
    const run = withSecondFullKind(cap);
    expect(failureKinds(run).map(describeFailureKind)).toEqual([
      `handshake-rejected · HTTP 503 × ${cap.failures.total}`,
      `handshake-rejected · HTTP 429 × ${cap.failures.total}`,
    ]);
  });

  it('says "or more" when the counts cannot tell several full kinds apart', () => {
    const run = withSecondFullKind(cap);
    const blurred = { ...run, failures: { ...run.failures, byStatus: {} } };
    expect(failureKinds(blurred).map(describeFailureKind)).toEqual([
      `handshake-rejected · HTTP 503 × ${MAX_MARKED_FAILURES_PER_KIND} or more`,
      `handshake-rejected · HTTP 429 × ${MAX_MARKED_FAILURES_PER_KIND} or more`,
    ]);
  });
});

describe('describeFailureKind', () => {
  it('names classes without a code by the class alone', () => {
    const degraded = loadRecordedRun('server-degradation');
    expect(failureKinds(degraded).map(describeFailureKind)).toEqual([`pong-timeout × ${degraded.failures.total}`]);
    const unreachable = loadRecordedRun('unreachable');
    expect(failureKinds(unreachable).map(describeFailureKind)).toEqual([
      `unreachable · ECONNREFUSED × ${unreachable.failures.total}`,
    ]);
  });
});
