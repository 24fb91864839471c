/**
 * The deployed worker step: runs one shard of a planned run and puts its
 * records where the record step will read them. A worker sees only its own
 * connections, so it gets its own RampControl with a fair share of the run's
 * tolerance, and three things stop it early: a fatal failure (as locally),
 * the Lambda deadline coming (an abort signal fired a margin ahead of it),
 * and a stop request for its target (the kill switch, polled every few seconds).
 * Every stop closes the connections with 1000 and still returns the records.
 */
import type { SecretReference } from '../config/config-types.js';
import { resolveTargetHeaders, targetProbeSettings } from '../config/target-settings.js';
import { runShard, shardInputOf } from '../connection/shard-runner.js';
import { assertAllowedHost } from './allowed-hosts.js';
import type { Logger } from './logger.js';
import { RampControl } from './ramp-control.js';
import { redactUrl } from './redact.js';
import type { ShardResultStore } from './shard-results.js';
import type { ShardTask, WorkerOutput } from './step-payloads.js';
import type { StopRequests } from './stop-requests.js';
import type { ShardAbort, ShardResult, Tolerance } from './types.js';

/** How often a worker asks whether a stop was requested, unless told otherwise. */
export const STOP_POLL_INTERVAL_MS = 3000;

/** What the worker step needs besides its task. */
export interface WorkerStepDependencies {
  /** Hosts a target URL may point at (the stack's allowlist), checked again here. */
  allowedHosts: readonly string[];
  /** Reads a secret header's value (Secrets Manager in Lambda). */
  readSecret: (reference: SecretReference) => Promise<string>;
  shardResults: ShardResultStore;
  stopRequests: StopRequests;
  /** Fires when the Lambda deadline is near (middy's signal, `stopMarginMs` ahead of the timeout). */
  deadline: AbortSignal;
  /** How far ahead of the Lambda timeout `deadline` fires, for the stop message. */
  stopMarginMs: number;
  log: Logger;
  /** Interval between stop-request polls (default {@link STOP_POLL_INTERVAL_MS}). */
  stopPollIntervalMs?: number;
}

/**
 * Runs one shard:
 * 1. checks the URL's host against the allowlist again;
 * 2. resolves the secret headers (values go to the connections only);
 * 3. runs the shard with its own RampControl (its share of the tolerance),
 *    aborted with `interrupted` by the deadline signal or a stop request;
 * 4. writes the whole ShardResult to the shard-results store;
 * 5. returns where it is, with counts and how the shard ended.
 */
export async function workerStep(task: ShardTask, deps: WorkerStepDependencies): Promise<WorkerOutput> {
  const log = deps.log.with({ runId: task.runId, targetId: task.target.id, shard: task.shard.index });
  assertAllowedHost(task.target.url, deps.allowedHosts);
  const headers = await resolveTargetHeaders(task.target, deps.readSecret);
  const settings = targetProbeSettings(task.target, headers);
  const rule = shardRampRule(task);
  const control = new RampControl(rule.tolerance, rule.stageTargets, settings.stopAtFirstFailingStage);
  log.info('shard starting', {
    url: redactUrl(settings.url),
    headers: Object.keys(headers),
    startAt: new Date(task.stages[0]?.startAt ?? task.plannedAt).toISOString(),
    newPerStage: task.shard.newPerStage,
    connectRate: task.shard.connectRate,
    tolerance: rule.tolerance,
  });
  const stopWatch = watchForStops(task, control, deps, log);
  let result: ShardResult;
  try {
    result = await runShard(shardInputOf(settings, task.stages, task.shard), { control });
  } finally {
    await stopWatch.stop();
  }
  const resultKey = await deps.shardResults.putShardResult({ targetId: task.target.id, runId: task.runId }, result);
  const output: WorkerOutput = {
    shard: result.shard,
    resultKey,
    records: result.records.length,
    opened: result.records.filter((record) => record.outcome === 'opened').length,
    ...(result.aborted ? { aborted: result.aborted } : {}),
  };
  log.info('shard finished', { ...output, stagesRun: result.stagesRun });
  return output;
}

/** The tolerance a worker judges its own stages by, and the stage targets it applies to. */
export interface ShardRampRule {
  tolerance: Tolerance;
  /** The shard's own cumulative target of each stage (its share of the global target). */
  stageTargets: number[];
}

/**
 * A worker's fair share of the run's tolerance. Workers cannot see each
 * other's failures, so each stops ramping when its *own* failures in a stage
 * pass its share:
 * - a count tolerance of N over S shards gives each shard ⌊N / S⌋, and one more
 *   to each of the first N mod S shards, so the shares add up to N exactly;
 * - a percent tolerance applies to the shard's own connections (its
 *   cumulative share of each stage target).
 *
 * When a stage fails for the run as a whole (more than N failures, or more
 * than the percentage), at least one shard is over its share, so that shard
 * stops at the first failing stage as a single process would. A shard may
 * also stop when its failures are over its share although the run's total is
 * within tolerance; the record step still judges each stage on the run's
 * totals.
 */
export function shardRampRule(task: Pick<ShardTask, 'target' | 'shard'>): ShardRampRule {
  const { tolerance } = task.target;
  const stageTargets = cumulative(task.shard.newPerStage);
  if (tolerance.kind === 'percent') return { tolerance, stageTargets };
  const shards = shardCountOf(task);
  const share = Math.floor(tolerance.value / shards) + (task.shard.index < tolerance.value % shards ? 1 : 0);
  return { tolerance: { kind: 'count', value: share }, stageTargets };
}

/**
 * Shards in the run: every shard's connect rate is the run's rate divided by
 * the shard count (see `planRun`).
 */
function shardCountOf(task: Pick<ShardTask, 'target' | 'shard'>): number {
  return Math.max(1, Math.round(task.target.plan.connectRate / task.shard.connectRate));
}

/** Running totals of `values`. */
function cumulative(values: readonly number[]): number[] {
  let total = 0;
  return values.map((value) => (total += value));
}

/** A running watch that can be stopped. */
interface StopWatch {
  /** Stops watching; resolves once no poll is in flight. */
  stop(): Promise<void>;
}

/**
 * Aborts `control` with `interrupted` when the deadline signal fires or a stop
 * request for the target appears. Polls one request at a time, every
 * `stopPollIntervalMs`, until stopped; a failed poll is logged and retried at
 * the next interval (the deadline still bounds the run).
 */
function watchForStops(task: ShardTask, control: RampControl, deps: WorkerStepDependencies, log: Logger): StopWatch {
  const stopWith = (abort: ShardAbort) => {
    if (control.signal.aborted) return;
    log.warn('shard stopping early', { reason: abort.message });
    control.abort(abort);
  };
  const onDeadline = () =>
    stopWith({
      failureClass: 'interrupted',
      message: `worker ${task.shard.index} stopped ${deps.stopMarginMs / 1000} s before its Lambda deadline`,
    });
  if (deps.deadline.aborted) onDeadline();
  else deps.deadline.addEventListener('abort', onDeadline, { once: true });

  const interval = deps.stopPollIntervalMs ?? STOP_POLL_INTERVAL_MS;
  let watching = true;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const poll = async () => {
    try {
      if (await deps.stopRequests.stopRequestedSince(task.target.id, task.plannedAt)) {
        stopWith({ failureClass: 'interrupted', message: `worker ${task.shard.index} stopped by a stop request for target ${task.target.id}` });
        return;
      }
    } catch (error) {
      log.warn('cannot read stop requests; will ask again', { error });
    }
    schedule();
  };
  const schedule = () => {
    if (watching && !control.signal.aborted) timer = setTimeout(() => (inFlight = poll()), interval);
  };
  schedule();
  return {
    async stop() {
      watching = false;
      clearTimeout(timer);
      deps.deadline.removeEventListener('abort', onDeadline);
      await inFlight;
    },
  };
}
