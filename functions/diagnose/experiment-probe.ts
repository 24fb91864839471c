/**
 * What every follow-up experiment of `diagnose` runs on: a plan runner given
 * by the caller (the CLI's in-process shards, which watch the host's
 * resources), a clock, waits that Ctrl-C cuts short, and a ledger of
 * probe-seconds. `openAndHold` is the common experiment step: open N
 * connections at a rate (optionally as matched groups with different
 * heartbeats side by side), hold them, close them. Every step stays within
 * the plan's largest stage and --max-connections, can honour Retry-After
 * (see retry-after.ts), and is judged for the probe's own limits exactly as a
 * run is (running out, a starved event loop): such a step decides nothing.
 */
import type { AdaptiveStage, ShardEvent } from '../engine/types.js';
import { collectFailures } from '../engine/failures.js';
import { findProbeFailure, type ProbeContext } from '../engine/limiting-factor.js';
import { planRun } from '../engine/plan.js';
import { RampControl } from '../engine/ramp-control.js';
import { redactUrl } from '../engine/redact.js';
import { OpenTimeline } from '../engine/timeline.js';
import type {
  ConnectionRecord,
  HeartbeatSettings,
  LoopDelaySample,
  ProbePlan,
  ProbeSettings,
  ShardAbort,
  ShardResult,
  StagePlan,
} from '../engine/types.js';
import type { ExperimentName, Finding } from './findings.js';
import { makeFinding } from './report.js';
import { honourRetryAfter, retryAfterReason, type RetryAfterBeyondBudget } from './retry-after.js';

/** Delay before an experiment's first stage, so every shard is ready. */
const EXPERIMENT_START_DELAY_MS = 100;

/** One plan for the runner: every shard of it, with optional per-shard heartbeats and adaptive stages. */
export interface PlanRequest {
  settings: ProbeSettings;
  plan: ProbePlan;
  control: RampControl;
  /** Heartbeat of one shard, instead of `settings.heartbeat` (matched groups). */
  heartbeatOf?: (shard: number) => HeartbeatSettings;
  /**
   * Headers or source addresses of one shard, instead of the settings' (limit-scope: a shard from a second address,
   * or with a second credential).
   */
  connectionOf?: (shard: number) => Partial<Pick<ProbeSettings, 'headers' | 'sourceAddresses'>> | undefined;
  /** Adaptive stages after the planned ones (see ShardInput.nextStage). */
  nextStage?: (ended: StagePlan) => AdaptiveStage | undefined;
  onEvent?: (event: ShardEvent) => void;
}

/** Runs a plan's shards and returns their results; the CLI gives `runPlanShards` under its resource watch. */
export type PlanRunner = (request: PlanRequest) => Promise<ShardResult[]>;

/** What the experiments need from their caller. */
export interface ExperimentContext {
  /** The run's validated settings: URL, headers, heartbeat, handshake timeout, safety cap. */
  settings: ProbeSettings;
  runPlan: PlanRunner;
  /** Epoch milliseconds. */
  now: () => number;
  /** Fires on Ctrl-C: experiments stop and report what they have. */
  signal: AbortSignal;
  /** One line per experiment step, for stderr. */
  onProgress: (line: string) => void;
  /** Seconds each experiment may spend, probing and pausing. */
  budgetSeconds: number;
  /** Probe-seconds and wait-seconds spent so far. */
  ledger: ProbeLedger;
}

/** Why an experiment step decides nothing: the probe was the limit, or the step stopped early. */
export type ExperimentStop =
  /** The probe ran out, its event loop was starved, or the resource watch saw a shortfall. */
  | { kind: 'probe-limited'; summary: string }
  /** A Retry-After asked to wait past the experiment budget. */
  | { kind: 'retry-after'; beyond: RetryAfterBeyondBudget }
  /** Ctrl-C. */
  | { kind: 'interrupted' }
  /** Any other fatal failure (config error, unreachable). */
  | { kind: 'aborted'; message: string };

/** What one experiment step observed. */
export interface ExperimentRun {
  records: ConnectionRecord[];
  stages: StagePlan[];
  /** Seconds from the first stage's start until every connection was closed. */
  probeSeconds: number;
  /** The probe process's event-loop delay per stage, from every shard. */
  loopDelay: LoopDelaySample[];
  /** Set when the step's data cannot be trusted or it stopped early. */
  stop?: ExperimentStop;
}

/** One step of `openAndHold`. */
export interface HoldStep {
  /** Connections in all (split evenly over `groups` when given). */
  count: number;
  /** New connections per second, all groups together. */
  rate: number;
  holdSeconds: number;
  /** Matched groups side by side, one heartbeat each; `count` must divide evenly. */
  groups?: HeartbeatSettings[];
  /** Honour Retry-After within the step, waiting at most `secondsLeft()` (see retry-after.ts). */
  honourRetryAfter?: () => number;
  /** Handshakes in flight at most, instead of the run's --max-in-flight; the step then runs in one shard. */
  maxInFlight?: number;
  /** Sees every shard event of the step. */
  onEvent?: (event: ShardEvent) => void;
  /** Receives what ends the step now, as a normal end (see ExperimentPlanRequest.ending). */
  ending?: (end: () => void) => void;
}

/** Most connections an experiment may attempt in one step: the plan's largest stage, never above --max-connections. */
export function maxExperimentConnections(settings: ProbeSettings): number {
  return Math.min(Math.max(...settings.stages), settings.maxConnections);
}

/** Probe-seconds (connections being opened or held) and wait-seconds (pauses between steps) spent. */
export class ProbeLedger {
  #probeMs = 0;
  #waitMs = 0;

  /** Adds the duration of one probing step. */
  addProbe(ms: number): void {
    this.#probeMs += ms;
  }

  /** Adds one pause. */
  addWait(ms: number): void {
    this.#waitMs += ms;
  }

  /** Seconds spent probing, to 0.1 s. */
  get probeSeconds(): number {
    return Math.round(this.#probeMs / 100) / 10;
  }

  /** Seconds spent waiting between steps, to 0.1 s. */
  get waitSeconds(): number {
    return Math.round(this.#waitMs / 100) / 10;
  }
}

/** Opens `step.count` connections at `step.rate`, holds them for `step.holdSeconds`, then closes them all with 1000. */
export async function openAndHold(context: ExperimentContext, step: HoldStep): Promise<ExperimentRun> {
  const groups = step.groups ?? [];
  const settings = experimentSettings(context.settings, {
    stages: [step.count],
    connectRate: step.rate,
    holdSeconds: step.holdSeconds,
    // A bound on handshakes in flight is exact in one shard.
    shardSize:
      groups.length > 0 ? step.count / groups.length : step.maxInFlight ? step.count : context.settings.shardSize,
    ...(step.maxInFlight !== undefined ? { maxInFlight: step.maxInFlight } : {}),
  });
  const plan = planRun(settings, {
    now: context.now,
    newRunId: () => 'experiment',
    startDelayMs: EXPERIMENT_START_DELAY_MS,
  });
  return runExperimentPlan(context, {
    settings,
    plan,
    ...(groups.length ? { heartbeatOf: (shard: number) => groups[shard] ?? settings.heartbeat } : {}),
    ...(step.honourRetryAfter ? { honourRetryAfter: step.honourRetryAfter } : {}),
    ...(step.onEvent ? { onEvent: step.onEvent } : {}),
    ...(step.ending ? { ending: step.ending } : {}),
  });
}

/** One experiment plan: a plan request whose control, if not given, is made here. */
export type ExperimentPlanRequest = Omit<PlanRequest, 'control'> & {
  control?: RampControl;
  /** Honour Retry-After within the plan, waiting at most `secondsLeft()`. */
  honourRetryAfter?: () => number;
  /**
   * Receives what ends the plan now: pending handshakes are cancelled and every connection is closed with 1000, as at
   * the plan's end, and the step is judged as one that ran to its end.
   */
  ending?: (end: () => void) => void;
};

/** The abort message of a plan its experiment ended early. */
const ENDED_BY_EXPERIMENT = 'ended by the experiment';

/**
 * Runs one experiment plan to its end: stops on Ctrl-C, honours Retry-After
 * when asked, counts its duration as probe-seconds, and judges the probe's
 * own limits over its records and event-loop delay as a run's analysis
 * does. The plan's requests are made by the experiments.
 */
export async function runExperimentPlan(
  context: ExperimentContext,
  request: ExperimentPlanRequest,
): Promise<ExperimentRun> {
  const { honourRetryAfter: retryAfterWithin, ending, ...planRequest } = request;
  const control = request.control ?? new RampControl(request.settings.tolerance, request.settings.stages, false);
  const stop = () => control.abort({ failureClass: 'interrupted', message: 'stopped by SIGINT' });
  ending?.(() => control.abort({ failureClass: 'interrupted', message: ENDED_BY_EXPERIMENT }));
  if (context.signal.aborted) stop();
  context.signal.addEventListener('abort', stop, { once: true });
  const stages: StagePlan[] = [...request.plan.stages];
  const nextStage = request.nextStage;
  let beyondBudget: RetryAfterBeyondBudget | undefined;
  const onRetryAfter = retryAfterWithin
    ? honourRetryAfter(control, context.now, retryAfterWithin, (beyond) => (beyondBudget = beyond))
    : undefined;
  const onEvent = request.onEvent;
  try {
    const shards = await context.runPlan({
      ...planRequest,
      control,
      ...(onRetryAfter || onEvent
        ? {
            onEvent: (event: ShardEvent) => {
              onRetryAfter?.(event);
              onEvent?.(event);
            },
          }
        : {}),
      ...(nextStage
        ? {
            nextStage: (ended: StagePlan) => {
              const next = nextStage(ended);
              if (next) stages.push(next.stage);
              return next;
            },
          }
        : {}),
    });
    const endedAt = context.now();
    const startedAt = request.plan.startAt;
    context.ledger.addProbe(Math.max(0, endedAt - startedAt));
    const records = shards.flatMap((shard) => shard.records);
    const loopDelay = shards.flatMap((shard) => shard.loopDelay);
    const judged = beyondBudget
      ? ({ kind: 'retry-after', beyond: beyondBudget } as const)
      : stopOf(endedEarly(control.abortReason), records, stages, loopDelay, {
          url: redactUrl(request.settings.url),
          shardsShareProcess: shards.some((shard) => shard.sharesProcess === true),
          ...(request.settings.sigv4 ? { sigv4: request.settings.sigv4 } : {}),
        });
    return {
      records,
      stages,
      probeSeconds: Math.round((endedAt - startedAt) / 100) / 10,
      loopDelay,
      ...(judged ? { stop: judged } : {}),
    };
  } finally {
    context.signal.removeEventListener('abort', stop);
  }
}

/** Why a plan was stopped, unless its experiment ended it (a normal end). */
function endedEarly(aborted: ShardAbort | undefined): ShardAbort | undefined {
  return aborted?.message === ENDED_BY_EXPERIMENT ? undefined : aborted;
}

/** The probe's own limits over a step, judged as a run's analysis judges them, or why it stopped early. */
function stopOf(
  aborted: ShardAbort | undefined,
  records: readonly ConnectionRecord[],
  stages: readonly StagePlan[],
  loopDelay: readonly LoopDelaySample[],
  probe: ProbeContext,
): ExperimentStop | undefined {
  const failure = findProbeFailure(
    aborted,
    collectFailures(records, stages),
    loopDelay,
    new OpenTimeline(records),
    probe,
  );
  if (failure === 'interrupted') return { kind: 'interrupted' };
  if (failure)
    return failure.factor.kind === 'probe-limited'
      ? { kind: 'probe-limited', summary: failure.factor.summary }
      : { kind: 'aborted', message: failure.factor.summary };
  return aborted ? { kind: 'aborted', message: aborted.message } : undefined;
}

/** The run's settings changed for one experiment: ramping never stops at a failure inside an experiment. */
export function experimentSettings(settings: ProbeSettings, changes: Partial<ProbeSettings>): ProbeSettings {
  return { ...settings, ...changes, stopAtFirstFailingStage: false };
}

/** Waits `seconds` (counted as wait-seconds); resolves early on Ctrl-C. */
export function pause(context: ExperimentContext, seconds: number): Promise<void> {
  if (seconds <= 0 || context.signal.aborted) return Promise.resolve();
  const started = context.now();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      context.signal.removeEventListener('abort', done);
      context.ledger.addWait(context.now() - started);
      resolve();
    };
    const timer = setTimeout(done, seconds * 1000);
    context.signal.addEventListener('abort', done, { once: true });
  });
}

/** A clock of one experiment's budget: seconds left of `context.budgetSeconds` since the call. */
export function startBudget(context: ExperimentContext): () => number {
  const deadline = context.now() + context.budgetSeconds * 1000;
  return () => (deadline - context.now()) / 1000;
}

/**
 * The finding of an experiment step that decides nothing: the probe's own
 * limits (probe-limited, never a ceiling), or a stop (undetermined: Ctrl-C,
 * a Retry-After beyond the budget, another fatal failure).
 */
export function stoppedFinding(
  context: ExperimentContext,
  experiment: ExperimentName,
  stop: ExperimentStop,
  probeSeconds: number,
  steps: string[],
): Finding {
  if (stop.kind === 'probe-limited') {
    const summary = `In the ${experiment} experiment: ${stop.summary}`;
    return makeFinding({ kind: 'probe-limited', values: { summary }, experiment, evidence: { steps }, probeSeconds });
  }
  const reason =
    stop.kind === 'interrupted'
      ? 'stopped by Ctrl-C'
      : stop.kind === 'retry-after'
        ? retryAfterReason(stop.beyond, context.budgetSeconds)
        : `stopped early (${stop.message})`;
  return makeFinding({
    kind: 'undetermined',
    values: { about: experiment, reason },
    experiment,
    evidence: { steps },
    probeSeconds,
  });
}
