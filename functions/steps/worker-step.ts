/**
 * The deployed worker step: runs one shard of a planned run and puts its
 * records where the record step will read them. Before opening anything it
 * checks that the shard fits its own Lambda (descriptors, ports, memory,
 * heap); a shard that does not fit opens nothing and returns a result that
 * makes the run inconclusive with the reason and the fix, never a ceiling.
 * A worker sees only its own connections, so it gets its own RampControl
 * with a fair share of the run's tolerance, and three things stop it early:
 * a fatal failure (as locally), the Lambda deadline coming (an abort signal
 * fired a margin ahead of it), and a stop request for its target (the kill
 * switch, polled every few seconds). Every stop closes the connections with
 * 1000 and still returns the records. The connections themselves are opened
 * by the shard runner it is given (the connection layer's, in Lambda), on
 * the same clock the worker reads the planned start with: a worker ready
 * more than LATE_START_THRESHOLD_MS after it says how late it started.
 */
import type { SecretReference } from '../config/config-types.js';
import { resolveInitMessages, resolveTargetHeaders, targetProbeSettings } from '../config/target-settings.js';
import type { SigV4Settings } from '../engine/execute-api.js';
import { assertAllowedHost } from './allowed-hosts.js';
import type { Logger } from '../engine/logger.js';
import { RampControl } from '../engine/ramp-control.js';
import { redactUrl } from '../engine/redact.js';
import {
  describeSelfCheckProblems,
  selfCheckHost,
  type HostBudget,
  type ProbeDemand,
  type RunningHostCheck,
  type SelfCheck,
} from '../engine/self-check.js';
import { LATE_START_THRESHOLD_MS } from './late-workers.js';
import type { ShardResultStore } from './shard-results.js';
import type { ShardTask, WorkerOutput } from './step-payloads.js';
import type { StopRequests } from './stop-requests.js';
import type { ProbeSettings, ShardAbort, ShardPlan, ShardResult, StagePlan, Tolerance } from '../engine/types.js';

/** How often a worker asks whether a stop was requested, unless told otherwise. */
const STOP_POLL_INTERVAL_MS = 3000;

/** Signs one upgrade URL: the same URL with its SigV4 signature in the query. */
export type UrlSigner = (url: string) => Promise<string>;

/** How the connections of a shard are made besides its settings. */
export interface ShardConnections {
  /** Shards in the run, so that `{{n}}` is unique across them. */
  shardCount: number;
  /** Signs each upgrade URL, when the target has `auth: {kind: "sigv4"}`. */
  sign?: UrlSigner;
}

/**
 * Opens one shard's share of the stages with `settings`, ramping under
 * `control` while it samples `host` (the running self-check), on the clock
 * `now` (epoch milliseconds, the one the stage times are read with), each
 * connection made as `connections` says, and returns every connection's
 * record: the connection layer's `runShard` under its resource watch in
 * Lambda (see functions/handlers/worker-handler.ts).
 */
export type ShardRunner = (
  settings: ProbeSettings,
  stages: readonly StagePlan[],
  shard: ShardPlan,
  control: RampControl,
  host: RunningHostCheck,
  now: () => number,
  connections: ShardConnections,
) => Promise<ShardResult>;

/** What the worker step needs besides its task. */
export interface WorkerStepDependencies {
  /** Runs the shard's connections. */
  runShard: ShardRunner;
  /**
   * Reads this Lambda's budget (descriptor limit, open descriptors, ports, memory, heap): just before the shard, then
   * while it runs.
   */
  readHostBudget: () => Promise<HostBudget>;
  /** Hosts a target URL may point at (the stack's allowlist), checked again here. */
  allowedHosts: readonly string[];
  /** Reads a secret header's or init message's value (Secrets Manager in Lambda). */
  readSecret: (reference: SecretReference) => Promise<string>;
  /** The signer of a target with `auth: {kind: "sigv4"}`: the SDK's, with this Lambda's role, in Lambda. */
  signerFor: (sigv4: SigV4Settings) => UrlSigner;
  shardResults: ShardResultStore;
  stopRequests: StopRequests;
  /** Fires when the Lambda deadline is near (middy's signal, `stopMarginMs` ahead of the timeout). */
  deadline: AbortSignal;
  /** How far ahead of the Lambda timeout `deadline` fires, for the stop message. */
  stopMarginMs: number;
  /**
   * Wall-clock time, epoch milliseconds: the clock the plan's stage times are in. The shard runs on it too, so
   * the worker's lateness and its stages are read off one clock.
   */
  now: () => number;
  log: Logger;
  /** Interval between stop-request polls (default {@link STOP_POLL_INTERVAL_MS}). */
  stopPollIntervalMs?: number;
}

/**
 * Runs one shard:
 * 1. checks the URL's host against the allowlist again;
 * 2. resolves the secret headers and init messages (values go to the connections only), and the URL signer;
 * 3. runs the self-check against this Lambda's budget: a shard that does not
 *    fit opens nothing and is stored as stopped, with the reason and the fix;
 * 4. otherwise runs the shard with its own RampControl (its share of the
 *    tolerance), aborted with `interrupted` by the deadline signal or a stop request;
 * 5. writes the whole ShardResult to the shard-results store;
 * 6. returns where it is, with counts and how the shard ended.
 */
export async function workerStep(task: ShardTask, deps: WorkerStepDependencies): Promise<WorkerOutput> {
  const log = deps.log.with({ runId: task.runId, targetId: task.target.id, shard: task.shard.index });
  assertAllowedHost(task.target.url, deps.allowedHosts);
  const [headers, initMessages] = await Promise.all([
    resolveTargetHeaders(task.target, deps.readSecret),
    resolveInitMessages(task.target, deps.readSecret),
  ]);
  const settings = targetProbeSettings(task.target, headers, initMessages);
  const { selfCheck, running } = await selfCheckHost(shardDemand(task), deps.readHostBudget);
  const lateMs = selfCheck.ok ? lateness(task, deps.now) : undefined;
  const result = selfCheck.ok
    ? await runWatchedShard(task, settings, deps, running, log, lateMs)
    : refusedShard(task, selfCheck, log);
  const resultKey = await deps.shardResults.putShardResult({ targetId: task.target.id, runId: task.runId }, result);
  const output: WorkerOutput = {
    shard: result.shard,
    resultKey,
    records: result.records.length,
    opened: result.records.filter((record) => record.outcome === 'opened').length,
    ...(result.aborted ? { aborted: result.aborted } : {}),
    ...(lateMs !== undefined ? { startedLateMs: lateMs } : {}),
  };
  log.info('shard finished', { ...output, stagesRun: result.stagesRun });
  return output;
}

/**
 * How many milliseconds after the planned start the worker is ready to open
 * its share, when that is more than {@link LATE_START_THRESHOLD_MS}; else undefined.
 */
function lateness(task: ShardTask, now: () => number): number | undefined {
  const plannedStart = task.stages[0]?.startAt ?? task.plannedAt;
  const lateMs = Math.round(now() - plannedStart);
  return lateMs > LATE_START_THRESHOLD_MS ? lateMs : undefined;
}

/**
 * What a shard asks of its Lambda: every connection it opens is held at once
 * in this one process, from one source address, and more shards (each its
 * own Lambda) would spread them.
 */
export function shardDemand(task: Pick<ShardTask, 'shard'>): ProbeDemand {
  const connections = task.shard.newPerStage.reduce((total, count) => total + count, 0);
  return {
    connectionsPerProcess: connections,
    costPerConnection: 1,
    connectionsPerTargetAddress: connections,
    shardsShareProcess: false,
  };
}

/** The result of a shard whose self-check failed: nothing opened, stopped with the self-check's reasons and fixes. */
function refusedShard(task: ShardTask, selfCheck: SelfCheck, log: Logger): ShardResult {
  const message =
    `worker ${task.shard.index} opened nothing, as its shard does not fit its Lambda: ` +
    describeSelfCheckProblems(selfCheck);
  log.warn('shard refused by its self-check', {
    reason: message,
    problems: selfCheck.problems.map((problem) => problem.resource),
  });
  return {
    shard: task.shard.index,
    records: [],
    loopDelay: [],
    stagesRun: 0,
    aborted: { failureClass: 'probe-limited', message },
  };
}

/** Runs the shard under its own RampControl, stopped early by the deadline or a stop request. */
async function runWatchedShard(
  task: ShardTask,
  settings: ProbeSettings,
  deps: WorkerStepDependencies,
  host: RunningHostCheck,
  log: Logger,
  lateMs: number | undefined,
): Promise<ShardResult> {
  const rule = shardRampRule(task);
  const control = new RampControl(rule.tolerance, rule.stageTargets, settings.stopAtFirstFailingStage);
  if (lateMs !== undefined) {
    log.warn('shard starting late', {
      lateMs,
      reason: `worker ${task.shard.index} started ${lateMs / 1000} s after the planned start`,
    });
  }
  log.info('shard starting', {
    url: redactUrl(settings.url),
    headers: Object.keys(settings.headers),
    ...(settings.session ? { initMessages: settings.session.initMessages.length } : {}),
    ...(settings.sigv4 ? { sigv4: settings.sigv4 } : {}),
    startAt: new Date(task.stages[0]?.startAt ?? task.plannedAt).toISOString(),
    newPerStage: task.shard.newPerStage,
    connectRate: task.shard.connectRate,
    tolerance: rule.tolerance,
  });
  const stopWatch = watchForStops(task, control, deps, log);
  try {
    const connections = {
      shardCount: task.shardCount,
      ...(settings.sigv4 ? { sign: deps.signerFor(settings.sigv4) } : {}),
    };
    return await deps.runShard(settings, task.stages, task.shard, control, host, deps.now, connections);
  } finally {
    await stopWatch.stop();
  }
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
export function shardRampRule(task: Pick<ShardTask, 'target' | 'shard' | 'shardCount'>): ShardRampRule {
  const { tolerance } = task.target;
  const stageTargets = cumulative(task.shard.newPerStage);
  if (tolerance.kind === 'percent') return { tolerance, stageTargets };
  const shards = task.shardCount;
  const share = Math.floor(tolerance.value / shards) + (task.shard.index < tolerance.value % shards ? 1 : 0);
  return { tolerance: { kind: 'count', value: share }, stageTargets };
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
        stopWith({
          failureClass: 'interrupted',
          message: `worker ${task.shard.index} stopped by a stop request for target ${task.target.id}`,
        });
        return;
      }
    } catch (error) {
      log.warn('cannot read stop requests; will ask again', { error });
    }
    schedule();
  };
  const schedule = () => {
    if (!watching || control.signal.aborted) return;
    timer = setTimeout(() => {
      inFlight = poll();
    }, interval);
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
