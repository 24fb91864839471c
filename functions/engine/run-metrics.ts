/**
 * A recorded run as CloudWatch datapoints (docs/architecture.md "Data"): which metrics a
 * run publishes, in which unit, with which dimensions and timestamp. Pure;
 * the record step hands the datapoints to a MetricsSink.
 */
import { completedCeiling, isSuccessfulVerdict } from './baseline.js';
import type { MetricDatapoint, MetricName, MetricUnit } from './metrics-sink.js';
import { DIMENSION, METRIC } from './metric-names.js';
import type { RunResult } from './types.js';

/** The unit each metric is published in (alarms and dashboards may filter on it). */
export const METRIC_UNITS: Readonly<Record<MetricName, MetricUnit>> = {
  [METRIC.ceiling]: 'Count',
  [METRIC.dropOnset]: 'Count',
  [METRIC.ceilingToBaseline]: 'None',
  [METRIC.probeSucceeded]: 'Count',
  [METRIC.failedConnections]: 'Count',
  [METRIC.handshakeP95]: 'Milliseconds',
  [METRIC.runSkipped]: 'Count',
  [METRIC.probeDeployed]: 'Count',
};

/**
 * The datapoints of a run, all at the run's `startedAt` (so a retried publish
 * lands on the same instant) with the dimensions `Target` and `Region`:
 * - `ProbeSucceeded` always: 1 for `ok`, `regressed` and `below-floor`, else 0;
 * - `Ceiling` only for a completed run (never for failed or inconclusive ones);
 * - `CeilingToBaseline` only for a completed run with a baseline;
 * - `DropOnset` and `HandshakeP95` when they are known;
 * - `FailedConnections` always.
 *
 * A `skipped` run (another run of its target held the lock) publishes only
 * `RunSkipped` 1: no `ProbeSucceeded`, so it is neither a failed run for the
 * probe-failed alarm nor a report for the probe-missing alarm (the run that
 * held the lock reports).
 */
export function runDatapoints(run: RunResult): MetricDatapoint[] {
  const ceiling = completedCeiling(run);
  const values: Array<[MetricName, number | null]> =
    run.verdict === 'skipped'
      ? [[METRIC.runSkipped, 1]]
      : [
          [METRIC.probeSucceeded, isSuccessfulVerdict(run.verdict) ? 1 : 0],
          [METRIC.ceiling, ceiling],
          [METRIC.ceilingToBaseline, ceiling === null ? null : (run.baseline?.ratio ?? null)],
          [METRIC.dropOnset, run.dropOnset],
          [METRIC.failedConnections, run.failures.total],
          [METRIC.handshakeP95, run.handshakeMs.p95],
        ];
  const timestamp = new Date(run.startedAt);
  const dimensions = { [DIMENSION.target]: run.targetId, [DIMENSION.region]: run.region };
  return values.flatMap(([name, value]) =>
    value === null ? [] : [{ name, value, unit: METRIC_UNITS[name], timestamp, dimensions: { ...dimensions } }],
  );
}
