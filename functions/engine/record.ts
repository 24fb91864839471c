/**
 * The record step: merges the shards' results into one RunResult (identity,
 * secret-free settings, analysis), judges it against the target's earlier
 * runs (baseline and regression), writes it once to the run store and then
 * publishes its metrics. The same function serves the local CLI and the
 * deployed record Lambda.
 */
import { createHash } from 'node:crypto';
import { analyzeRun } from './analysis.js';
import { judgeAgainstHistory } from './baseline.js';
import type { Logger } from './logger.js';
import type { MetricsSink } from './metrics-sink.js';
import { displayTargetUrl } from './connection-template.js';
import { publicSessionSettings } from './session-settings.js';
import { publicSessionUrlSource } from './session-url-source.js';
import { runDatapoints } from './run-metrics.js';
import type { PutRunOutcome, RunStore } from './run-store.js';
import type { ProbePlan, ProbeSettings, PublicSettings, RunResult, ShardResult } from './types.js';
import { PROBE_VERSION } from './version.js';

/**
 * Earlier runs read per baseline run wanted: failed, inconclusive and
 * differently configured runs are interleaved with the comparable ones.
 */
const HISTORY_RUNS_PER_BASELINE_RUN = 4;
/** Fewest earlier runs read, whatever the baseline size. */
const MIN_HISTORY_RUNS = 20;

/** Everything the record step merges. */
export interface RecordInput {
  settings: ProbeSettings;
  plan: ProbePlan;
  shards: readonly ShardResult[];
  /** `local` for the CLI, the AWS region when deployed. */
  region: string;
  /** When the last shard finished, epoch milliseconds. */
  finishedAt: number;
}

/** What happened to a run's metrics: published, failed (logged, the run is still stored) or skipped (no sink). */
export type MetricsOutcome = 'published' | 'failed' | 'skipped';

/** A recorded run, whether this call wrote it or found it already written, and what became of its metrics. */
export interface RecordedRun {
  run: RunResult;
  stored: PutRunOutcome;
  metrics: MetricsOutcome;
}

/** Where the record step reads and writes. */
export interface RecordDependencies {
  store: RunStore;
  /** Where the run's datapoints go; none (the local CLI) skips publishing. */
  metrics?: MetricsSink;
  /** Where a metrics publishing failure is logged; without one it is only reported as `metrics: 'failed'`. */
  log?: Logger;
  /**
   * Looks the judged run over before it is written (the deployed record step words workers that started late);
   * what it returns is written and published.
   */
  review?: (run: RunResult) => RunResult;
}

/**
 * Records a finished run, in this order:
 * 1. builds the run (analysis, secret-free settings);
 * 2. reads the target's latest runs and sets the baseline and the verdict
 *    against it (see baseline.ts);
 * 3. writes the item, once per run id: a repeat finds it and is a `duplicate`;
 * 4. then publishes the run's datapoints, if a sink is given. A publishing
 *    failure is logged and reported as `metrics: 'failed'`; it never throws
 *    and never loses the item, which is already written.
 *
 * A `duplicate` still publishes: a repeat is a retried record step, and the
 * first try may have written the item and then died (timeout, crash, a
 * CloudWatch failure) before its metrics went out, so without them the
 * "probe did not run" alarm would page for a run that happened. The repeat
 * publishes the stored run's figures at the same timestamp (`startedAt`), so
 * Minimum, Maximum and Average of each metric are unchanged if the first try
 * had published too. When the stored run is among the history read, it is
 * the one returned and published.
 */
export async function recordRun(input: RecordInput, deps: RecordDependencies): Promise<RecordedRun> {
  const measured = buildRunResult(input);
  const history = await deps.store.latestRuns(measured.targetId, historyLimit(input.settings.baselineRuns));
  const judged = (deps.review ?? ((run: RunResult) => run))(judgeAgainstHistory(measured, history, input.settings));
  const stored = await deps.store.putRun(judged);
  const run = stored === 'duplicate' ? (history.find((earlier) => earlier.runId === judged.runId) ?? judged) : judged;
  const metrics = deps.metrics ? await publishRunMetrics(run, deps.metrics, deps.log) : 'skipped';
  return { run, stored, metrics };
}

/** How many of a target's latest runs the record step reads to find `baselineRuns` comparable ones. */
export function historyLimit(baselineRuns: number): number {
  return Math.max(MIN_HISTORY_RUNS, baselineRuns * HISTORY_RUNS_PER_BASELINE_RUN);
}

/** Publishes the run's datapoints; a failure is logged (its message, no secret) and returned as `failed`. */
async function publishRunMetrics(run: RunResult, sink: MetricsSink, log: Logger | undefined): Promise<MetricsOutcome> {
  try {
    await sink.publish(runDatapoints(run));
    return 'published';
  } catch (error) {
    log?.error('metrics not published; the run is stored', {
      runId: run.runId,
      targetId: run.targetId,
      region: run.region,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    return 'failed';
  }
}

/** The RunResult of a finished run: pure, holds no secret. */
export function buildRunResult(input: RecordInput): RunResult {
  const { settings, plan } = input;
  const url = displayTargetUrl(settings.url);
  const shown = publicSettings(settings, plan);
  const analysis = analyzeRun({
    plan,
    shards: input.shards,
    tolerance: settings.tolerance,
    heartbeat: settings.heartbeat.kind,
    url,
    ...(settings.minCeiling !== undefined ? { minCeiling: settings.minCeiling } : {}),
    // The run's public settings say whether it was signed; a refused signed upgrade then names the signature.
    ...(shown.sigv4 ? { sigv4: shown.sigv4 } : {}),
  });
  return {
    runId: plan.runId,
    targetId: plan.targetId,
    url,
    region: input.region,
    startedAt: new Date(plan.startAt).toISOString(),
    finishedAt: new Date(input.finishedAt).toISOString(),
    probeVersion: PROBE_VERSION,
    configHash: configHash(shown),
    ...analysis,
    settings: shown,
    baseline: null,
  };
}

/** The settings of a run as they may be printed and stored: header names only, no values. */
export function publicSettings(settings: ProbeSettings, plan: ProbePlan): PublicSettings {
  const { heartbeat } = settings;
  return {
    stages: [...settings.stages],
    holdSeconds: settings.holdSeconds,
    connectRate: settings.connectRate,
    maxInFlight: settings.maxInFlight,
    handshakeTimeoutSeconds: settings.handshakeTimeoutSeconds,
    heartbeat:
      heartbeat.kind === 'off'
        ? { kind: 'off' }
        : heartbeat.kind === 'ping'
          ? {
              kind: 'ping',
              intervalSeconds: heartbeat.intervalSeconds,
              pongTimeoutSeconds: heartbeat.pongTimeoutSeconds,
            }
          : { kind: 'message', intervalSeconds: heartbeat.intervalSeconds },
    headerNames: Object.keys(settings.headers).sort(),
    subprotocols: [...settings.subprotocols],
    tolerance: settings.tolerance,
    maxConnections: settings.maxConnections,
    shardSize: settings.shardSize,
    shards: plan.shards.length,
    ...(settings.minCeiling !== undefined ? { minCeiling: settings.minCeiling } : {}),
    ...(settings.simulate !== undefined ? { simulate: settings.simulate } : {}),
    ...(settings.sourceAddresses?.length ? { sourceAddresses: [...settings.sourceAddresses] } : {}),
    ...(settings.session ? { session: publicSessionSettings(settings.session) } : {}),
    ...(settings.sessionUrlSource ? { sessionUrlSource: publicSessionUrlSource(settings.sessionUrlSource) } : {}),
    ...(settings.sigv4 ? { sigv4: { ...settings.sigv4 } } : {}),
    ...(settings.alternateHeaders ? { alternateHeaderNames: Object.keys(settings.alternateHeaders).sort() } : {}),
  };
}

/**
 * A short stable hash of what makes runs of one target comparable: the public
 * settings that shape the measurement. The URL is left out because the target
 * id names the endpoint (and a simulator's port changes on every run). The floor (`minCeiling`) and
 * the safety cap (`maxConnections`) judge or guard a run without changing it,
 * and the regression tolerance and baseline size are not settings of the run
 * at all, so changing any of them keeps the baseline. The `--simulate` spec
 * describes the target, like the URL, so a simulator given a lower cap is
 * judged against its earlier runs (and shows as regressed). A second
 * credential (`--alternate-header`) is only for diagnose's experiments and
 * leaves the run as it is.
 */
export function configHash(settings: PublicSettings): string {
  const {
    minCeiling: _floor,
    maxConnections: _cap,
    simulate: _target,
    alternateHeaderNames: _alternate,
    ...measured
  } = settings;
  return createHash('sha256').update(JSON.stringify(measured)).digest('hex').slice(0, 16);
}
