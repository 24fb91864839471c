/**
 * What every follow-up experiment of `diagnose` runs on: a plan runner given
 * by the caller (the CLI's in-process shards), a clock, waits that Ctrl-C
 * cuts short, and a ledger of probe-seconds. `openAndHold` is the common
 * experiment step: open N connections at a rate (optionally as matched groups
 * with different heartbeats side by side), hold them, close them.
 */
import type { AdaptiveStage, ShardEvent } from '../connection/shard-runner.js';
import { planRun } from '../engine/plan.js';
import { RampControl } from '../engine/ramp-control.js';
import type { ConnectionRecord, HeartbeatSettings, ProbePlan, ProbeSettings, ShardAbort, ShardResult, StagePlan } from '../engine/types.js';
import type { ExperimentName, Finding } from './findings.js';
import { makeFinding } from './report.js';

/** Delay before an experiment's first stage, so every shard is ready. */
const EXPERIMENT_START_DELAY_MS = 100;

/** One plan for the runner: every shard of it, with optional per-shard heartbeats and adaptive stages. */
export interface PlanRequest {
  settings: ProbeSettings;
  plan: ProbePlan;
  control: RampControl;
  /** Heartbeat of one shard, instead of `settings.heartbeat` (matched groups). */
  heartbeatOf?: (shard: number) => HeartbeatSettings;
  /** Adaptive stages after the planned ones (see ShardInput.nextStage). */
  nextStage?: (ended: StagePlan) => AdaptiveStage | undefined;
  onEvent?: (event: ShardEvent) => void;
}

/** Runs a plan's shards and returns their results; the CLI gives `runPlanShards`. */
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

/** What one experiment step observed. */
export interface ExperimentRun {
  records: ConnectionRecord[];
  stages: StagePlan[];
  /** Seconds from the first stage's start until every connection was closed. */
  probeSeconds: number;
  /** Set when the step stopped early: Ctrl-C, or a fatal failure (the probe's own limits among them). */
  aborted?: ShardAbort;
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
    shardSize: groups.length > 0 ? step.count / groups.length : context.settings.shardSize,
  });
  const plan = planRun(settings, { now: context.now, newRunId: () => 'experiment', startDelayMs: EXPERIMENT_START_DELAY_MS });
  return runExperimentPlan(context, { settings, plan, ...(groups.length ? { heartbeatOf: (shard: number) => groups[shard] ?? settings.heartbeat } : {}) });
}

/**
 * Runs one experiment plan to its end: stops on Ctrl-C, and counts its
 * duration as probe-seconds. The plan's requests are made by the experiments.
 */
export async function runExperimentPlan(
  context: ExperimentContext,
  request: Omit<PlanRequest, 'control'> & { control?: RampControl },
): Promise<ExperimentRun> {
  const control = request.control ?? new RampControl(request.settings.tolerance, request.settings.stages, false);
  const stop = () => control.abort({ failureClass: 'interrupted', message: 'stopped by SIGINT' });
  if (context.signal.aborted) stop();
  context.signal.addEventListener('abort', stop, { once: true });
  const stages: StagePlan[] = [...request.plan.stages];
  const nextStage = request.nextStage;
  try {
    const shards = await context.runPlan({
      ...request,
      control,
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
    const aborted = control.abortReason;
    return {
      records: shards.flatMap((shard) => shard.records),
      stages,
      probeSeconds: Math.round((endedAt - startedAt) / 100) / 10,
      ...(aborted ? { aborted } : {}),
    };
  } finally {
    context.signal.removeEventListener('abort', stop);
  }
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
 * The finding of an experiment step that was stopped: by Ctrl-C
 * (undetermined), or by the probe's own limits (probe-limited, never a ceiling).
 */
export function abortedFinding(experiment: ExperimentName, run: ExperimentRun, probeSeconds: number, steps: string[]): Finding {
  const aborted = run.aborted;
  if (aborted?.failureClass === 'probe-limited') {
    const summary = `The probe itself ran out during the ${experiment} experiment (${aborted.message}), so it cannot say where the target's limit is: raise the descriptor limit (ulimit -n), add source addresses, or plan fewer connections.`;
    return makeFinding({ kind: 'probe-limited', values: { summary }, experiment, evidence: { steps }, probeSeconds });
  }
  const reason = aborted?.failureClass === 'interrupted' ? 'stopped by Ctrl-C' : `stopped early (${aborted?.message ?? 'unknown'})`;
  return makeFinding({ kind: 'undetermined', values: { about: experiment, reason }, experiment, evidence: { steps }, probeSeconds });
}
