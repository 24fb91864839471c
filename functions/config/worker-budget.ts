/**
 * The time budget of one deployed worker Lambda: how many shards a plan
 * needs, how long its ramp takes, and the timeout a worker gets (the
 * synchronised start delay, the plan, closing and uploading). The config
 * schema refuses a plan that cannot fit one Lambda run, the CDK constructs
 * set the worker's timeout from it, and the plan step starts the run
 * `WORKER_START_DELAY_SECONDS` ahead. Pure: the ramp arithmetic is the plan
 * step's own (`planRun`), not a copy.
 */
import { expectedSeconds, planRun } from '../engine/plan.js';
import type { ProbePlan, ProbeSettings } from '../engine/types.js';
import type { PlanConfig } from './config-types.js';
import { planProbeSettings } from './target-settings.js';

/**
 * How far ahead of the plan step the first stage starts, so every worker is
 * past its cold start. What it covers, measured where it can be: the worker's
 * bundle (about 570 KB) loads in 52 to 185 ms in a fresh Node process on a
 * loaded 2-core x86 machine, under a second at the third of a vCPU a 512 MB
 * Lambda gets; then the sandbox's start, the secret reads, the self-check,
 * and for a Distributed Map one child execution per shard. 20 s is more than
 * ten times that. A worker that still starts late says so (late-workers.ts),
 * and Lambda's `platform.report` log lines give the deployment's own init
 * times (docs/deployed.md "Late workers").
 */
export const WORKER_START_DELAY_SECONDS = 20;

/** Time a worker allows, after the last hold, to close its connections with 1000 and see them end. */
export const WORKER_CLOSE_GRACE_SECONDS = 10;

/**
 * How long before its Lambda deadline a worker stops opening, closes what is
 * open and returns its records: the time it keeps to upload its shard result.
 */
export const WORKER_STOP_MARGIN_MS = 15_000;

/** Worker Lambdas one run of `plan` starts (each holds at most `shardSize` connections). */
export function shardCount(plan: PlanConfig): number {
  return layOut(plan).shards.length;
}

/** Seconds from the first stage's start to the last stage's hold end when every stage runs. */
export function planSeconds(plan: PlanConfig): number {
  return expectedSeconds(layOut(plan));
}

/**
 * The worker Lambda timeout `plan` needs, in whole seconds: the start delay,
 * the whole plan, the close grace and the stop margin. A valid config keeps
 * it at or under Lambda's 900 s (aws-limits.ts).
 */
export function workerTimeoutSeconds(plan: PlanConfig): number {
  return Math.ceil(
    WORKER_START_DELAY_SECONDS + planSeconds(plan) + WORKER_CLOSE_GRACE_SECONDS + WORKER_STOP_MARGIN_MS / 1000,
  );
}

/** The plan step's layout of `plan` starting at time 0; the fields it does not read are neutral. */
function layOut(plan: PlanConfig): ProbePlan {
  const settings: ProbeSettings = {
    ...planProbeSettings(plan),
    url: 'wss://budget.invalid/',
    targetId: 'budget',
    heartbeat: { kind: 'off' },
    headers: {},
    subprotocols: [],
    tolerance: { kind: 'count', value: 0 },
    regressionTolerance: 0,
    baselineRuns: 1,
  };
  return planRun(settings, { now: () => 0, newRunId: () => 'budget', startDelayMs: 0 });
}
