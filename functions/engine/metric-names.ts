/**
 * The CloudWatch vocabulary of ws-ceiling, in one place: the namespace, the
 * metric names and the dimension names. The record step's publisher and the
 * CDK alarm and dashboard constructs both import it, so they cannot drift.
 */

/** CloudWatch namespace every ws-ceiling metric is published under. */
export const METRIC_NAMESPACE = 'WsCeiling';

/** Metric names (see docs/architecture.md "Data"). */
export const METRIC = {
  /** Highest concurrency held; published only by completed runs (not failed or inconclusive). */
  ceiling: 'Ceiling',
  /** Open connections when the first limiting failure happened. */
  dropOnset: 'DropOnset',
  /** Ceiling divided by the baseline ceiling; published only when there is a baseline. */
  ceilingToBaseline: 'CeilingToBaseline',
  /** 1 when the run completed (verdict ok, regressed or below-floor), 0 when it failed or was inconclusive. */
  probeSucceeded: 'ProbeSucceeded',
  /** Failed connections of the run, all classes. */
  failedConnections: 'FailedConnections',
  /** Handshake latency p95 of the run, milliseconds. */
  handshakeP95: 'HandshakeP95',
  /** 1 for a run skipped because another run of its target held the run lock; such a run publishes nothing else. */
  runSkipped: 'RunSkipped',
  /**
   * 1 when the target's alarms were deployed (published by the stack, not by a run): the probe-missing alarm
   * counts it as a report, so it does not page before the first run was due.
   */
  probeDeployed: 'ProbeDeployed',
} as const;

/** Dimension names: every datapoint carries both. */
export const DIMENSION = {
  target: 'Target',
  region: 'Region',
} as const;
