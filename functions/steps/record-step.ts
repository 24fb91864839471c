/**
 * The deployed record step: gathers every shard's result from the
 * shard-results store, stands in an aborted result for each worker that
 * failed, timed out or left no result (so the run is `inconclusive` with the
 * worker and its error in the reason, never a low ceiling), says which
 * workers started late, then records the run with `recordRun`: analysis,
 * baseline, one item per run id, metrics. Then it stores the run's HTML
 * report, sends on-call a message when the run pages (or the target is back
 * to ok), and releases the target's run lock, whatever happened before. A
 * run the plan step found locked is recorded as `skipped`. Header values
 * never reach this step: the settings carry header names only.
 */
import { settingsWithoutSecrets } from '../config/target-settings.js';
import type { Logger } from '../engine/logger.js';
import type { MetricsSink } from '../engine/metrics-sink.js';
import { buildRunResult, recordRun, type MetricsOutcome } from '../engine/record.js';
import { runDatapoints } from '../engine/run-metrics.js';
import type { RunStore } from '../engine/run-store.js';
import { lateWorkersOf, reviewLateWorkers } from './late-workers.js';
import { runAlert, type RunAlerts } from './run-alert.js';
import type { RunLocks } from './run-locks.js';
import type { ReportLocation, RunReports } from './run-reports.js';
import type { ShardResultStore } from './shard-results.js';
import {
  isFailedShard,
  type FailedShard,
  type RecordStepInput,
  type RecordStepOutput,
  type WorkerOutput,
} from './step-payloads.js';
import type { RunResult, ShardResult } from '../engine/types.js';

/** Longest part of a failed worker's error cause kept in the verdict reason. */
const MAX_CAUSE_LENGTH = 300;

/** Runs of the target read after recording: the report's trend and the run before this one. */
const RECENT_RUNS_READ = 20;

/** Renders a run's HTML report with the target's earlier runs (newest first) for its trend. */
export type ReportRenderer = (run: RunResult, history: readonly RunResult[]) => string;

/** What the record step reads and writes. */
export interface RecordStepDependencies {
  shardResults: Pick<ShardResultStore, 'getShardResult'>;
  store: RunStore;
  metrics?: MetricsSink;
  /** The targets' run locks: this run's is released at the end. */
  locks?: Pick<RunLocks, 'release'>;
  /** Where a run that pages, or a target back to ok, is told (the region's topic). */
  alerts?: RunAlerts;
  /** Where the run's HTML report is kept, and how it is rendered. */
  reports?: { store: RunReports; render: ReportRenderer };
  /** The deployment's name (the config's `name`), for the commands in messages. */
  deployment?: string;
  /** The AWS region the run was probed from. */
  region: string;
  /**
   * Current time, epoch milliseconds: when the record step runs, which the run keeps as its `finishedAt` (its workers
   * ended shortly before).
   */
  now: () => number;
  log: Logger;
}

/**
 * Records one deployed run:
 * 1. a skipped run (another run held the lock) is written as `skipped` and
 *    publishes `RunSkipped` only; nothing else happens;
 * 2. reads each planned shard's result; a FailedShard, a missing object or a
 *    shard absent from the map's results becomes an aborted (`interrupted`)
 *    result with no records, whose message names the worker and its error;
 * 3. records the run with header names only (analysis, baseline and verdict,
 *    late workers, one item per run id, then metrics);
 * 4. stores its HTML report and tells on-call when it pages or recovered
 *    (a failure of either is logged: the run is stored and its alarms fire);
 * 5. releases the target's run lock, also when an earlier step threw;
 * 6. logs and returns the verdict.
 */
export async function recordStep(input: RecordStepInput, deps: RecordStepDependencies): Promise<RecordStepOutput> {
  const log = deps.log.with({ runId: input.runId, targetId: input.target.id });
  if (input.skipped) return recordSkipped(input, deps, log);
  try {
    return await recordProbedRun(input, deps, log);
  } finally {
    await releaseLock(input, deps, log);
  }
}

/** Steps 2 to 4 and 6 of {@link recordStep}. */
async function recordProbedRun(input: RecordStepInput, deps: RecordStepDependencies, log: Logger) {
  const results = input.shards ?? [];
  const shards = await Promise.all(
    input.plan.shards.map((planned) => shardResultOf(planned.index, results, deps.shardResults)),
  );
  for (const shard of shards) {
    if (shard.aborted)
      log.warn('shard stopped early', {
        shard: shard.shard,
        records: shard.records.length,
        reason: shard.aborted.message,
      });
  }
  const late = lateWorkersOf(results);
  const { run, stored, metrics } = await recordRun(
    {
      settings: settingsWithoutSecrets(input.target),
      plan: input.plan,
      shards,
      region: deps.region,
      finishedAt: deps.now(),
    },
    {
      store: deps.store,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      log,
      review: (judged) => reviewLateWorkers(judged, late, input.plan.holdSeconds),
    },
  );
  const recent = await recentRuns(run, deps, log);
  const report = await storeReport(run, recent, deps, log);
  const alerted = await sendAlert(run, recent, report, deps, log);
  const output = outputOf(run, stored);
  log.info('run recorded', {
    ...output,
    metrics,
    alert: alerted,
    ...(report ? { report: report.key } : {}),
    ...(late.length > 0 ? { lateWorkers: late } : {}),
    records: shards.reduce((total, shard) => total + shard.records.length, 0),
  });
  return output;
}

/** Writes a run the plan step found locked as `skipped`, and publishes `RunSkipped`. */
async function recordSkipped(
  input: RecordStepInput,
  deps: RecordStepDependencies,
  log: Logger,
): Promise<RecordStepOutput> {
  const holder = input.skipped?.heldBy;
  const measured = buildRunResult({
    settings: settingsWithoutSecrets(input.target),
    plan: input.plan,
    shards: [],
    region: deps.region,
    finishedAt: deps.now(),
  });
  const run: RunResult = {
    ...measured,
    verdict: 'skipped',
    verdictReason:
      `Skipped: run ${holder?.runId ?? 'unknown'} of ${input.target.id} held the run lock ` +
      `(since ${iso(holder?.since)}, until ${iso(holder?.until)} at the latest), so this run probed nothing: ` +
      'two runs at once would share the endpoint and skew both ceilings.',
    ceiling: { value: null, reached: false },
    dropOnset: null,
    limitingFactor: null,
    stages: [],
    baseline: null,
  };
  const stored = await deps.store.putRun(run);
  let metrics: MetricsOutcome = 'skipped';
  if (deps.metrics) {
    try {
      await deps.metrics.publish(runDatapoints(run));
      metrics = 'published';
    } catch (error) {
      log.error('metrics not published; the run is stored', { error });
      metrics = 'failed';
    }
  }
  const output = outputOf(run, stored);
  log.info('run recorded', { ...output, metrics });
  return output;
}

/** The record step's output for `run`. */
function outputOf(run: RunResult, stored: RecordStepOutput['stored']): RecordStepOutput {
  return {
    runId: run.runId,
    targetId: run.targetId,
    verdict: run.verdict,
    verdictReason: run.verdictReason,
    ceiling: run.ceiling,
    dropOnset: run.dropOnset,
    limitingFactor: run.limitingFactor?.kind ?? null,
    stored,
  };
}

/** The target's latest runs up to `run` (it included), newest first; none when they cannot be read (logged). */
async function recentRuns(run: RunResult, deps: RecordStepDependencies, log: Logger): Promise<RunResult[]> {
  if (!deps.reports && !deps.alerts) return [];
  try {
    const runs = await deps.store.latestRuns(run.targetId, RECENT_RUNS_READ);
    return runs.filter((earlier) => earlier.runId !== run.runId && earlier.startedAt <= run.startedAt);
  } catch (error) {
    log.error('cannot read the earlier runs for the report and the message', { error });
    return [];
  }
}

/** Renders and stores the run's report; undefined (logged) when that fails. */
async function storeReport(
  run: RunResult,
  recent: readonly RunResult[],
  deps: RecordStepDependencies,
  log: Logger,
): Promise<ReportLocation | undefined> {
  if (!deps.reports) return undefined;
  try {
    return await deps.reports.store.putReport(run, deps.reports.render(run, [run, ...recent]));
  } catch (error) {
    log.error('report not stored; the run is', { error });
    return undefined;
  }
}

/** Sends the run's message when it has one; what happened, for the log. */
async function sendAlert(
  run: RunResult,
  recent: readonly RunResult[],
  report: ReportLocation | undefined,
  deps: RecordStepDependencies,
  log: Logger,
): Promise<'sent' | 'none' | 'failed'> {
  if (!deps.alerts) return 'none';
  const previous = recent.find((earlier) => earlier.verdict !== 'skipped');
  const alert = runAlert(run, previous, {
    region: deps.region,
    ...(deps.deployment !== undefined ? { deployment: deps.deployment } : {}),
    ...(report ? { report } : {}),
  });
  if (!alert) return 'none';
  try {
    await deps.alerts.publish(alert);
    return 'sent';
  } catch (error) {
    log.error('message not sent to on-call; the run is stored and its alarms still fire', { error });
    return 'failed';
  }
}

/** Releases the run's lock; a failure is logged (the lock expires on its own). */
async function releaseLock(input: RecordStepInput, deps: RecordStepDependencies, log: Logger): Promise<void> {
  if (!deps.locks) return;
  try {
    const released = await deps.locks.release(input.target.id, input.runId);
    if (!released) log.warn('run lock not held by this run any more (expired or taken); nothing to release');
  } catch (error) {
    log.error('cannot release the run lock; it expires on its own', { error });
  }
}

/** An epoch-millisecond time in ISO-8601, or `unknown`. */
function iso(time: number | undefined): string {
  return time === undefined ? 'unknown' : new Date(time).toISOString();
}

/** The result of shard `index`: what its worker stored, or an aborted stand-in saying why there is none. */
async function shardResultOf(
  index: number,
  results: ReadonlyArray<WorkerOutput | FailedShard>,
  store: Pick<ShardResultStore, 'getShardResult'>,
): Promise<ShardResult> {
  const result = results.find((candidate) => candidate.shard === index);
  if (!result) return lostShard(index, `worker ${index} returned no result`);
  if (isFailedShard(result)) return lostShard(index, `worker ${index} failed: ${describeFailure(result.failed)}`);
  const stored = await store.getShardResult(result.resultKey);
  return stored ?? lostShard(index, `worker ${index}'s result ${result.resultKey} is missing`);
}

/** A shard with no records, stopped for `message`: the run cannot claim a ceiling. */
function lostShard(index: number, message: string): ShardResult {
  return { shard: index, records: [], loopDelay: [], stagesRun: 0, aborted: { failureClass: 'interrupted', message } };
}

/**
 * A failed worker's error in a few words: the Step Functions error name
 * (for a Lambda error, its type, e.g. `Sandbox.Timedout`) and the message
 * from the cause (for a Lambda error, a JSON document with `errorType`,
 * `errorMessage` and a stack trace), shortened.
 */
export function describeFailure(failed: FailedShard['failed']): string {
  const cause = (failed.cause ?? '').trim();
  let message = cause;
  try {
    const parsed = JSON.parse(cause) as { errorType?: unknown; errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') {
      const type =
        typeof parsed.errorType === 'string' && parsed.errorType !== failed.error ? `${parsed.errorType}: ` : '';
      message = `${type}${parsed.errorMessage}`;
    }
  } catch {
    // Not a Lambda error document: the cause is plain text.
  }
  if (message.length > MAX_CAUSE_LENGTH) message = `${message.slice(0, MAX_CAUSE_LENGTH)}…`;
  return message ? `${failed.error}: ${message}` : failed.error;
}
