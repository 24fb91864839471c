/**
 * The state a deployed run carries through Step Functions, built in one
 * place: the plan step hands it to the worker map (one task per shard, each
 * repeating the target and the stages), and the config check builds the
 * same state for a stand-in run to measure it against the 256 KiB a state
 * may hold. It also sets what each worker may keep in flight: never less
 * than one second of its share of the connect rate, so a run split over
 * many workers is not held under its planned rate by a bound of 1. Pure.
 */
import { planRun } from '../engine/plan.js';
import type { ProbePlan, ShardPlan } from '../engine/types.js';
import { STATE_PAYLOAD_LIMIT_BYTES } from './aws-limits.js';
import type { TargetConfig } from './config-types.js';
import { settingsWithoutSecrets } from './target-settings.js';

/**
 * Room kept per shard for its map result in the record step's input: a
 * WorkerOutput is about 200 bytes; a FailedShard holds the error's cause,
 * which the worker handler keeps under this (functions/handlers/compact-error.ts).
 */
export const MAP_RESULT_ALLOWANCE_BYTES = 512;

/**
 * Seconds of handshakes a worker may keep in flight at its share of the
 * connect rate, at least: a handshake that takes up to this long (a TLS
 * upgrade across regions, a gateway under load) never holds a worker under
 * its planned rate.
 */
const PLANNED_HANDSHAKE_SECONDS = 1;

/**
 * Share of a state's 256 KiB kept free: what differs from run to run and
 * from the stand-in the config check measures (a worker's result carrying a
 * long abort reason, longer than the allowance above; a late start) must not
 * make a run fail at its record state instead of being recorded.
 */
const STATE_HEADROOM_SHARE = 0.05;

/** The most bytes the record step's input may take: the state limit less the headroom. */
export const STATE_BUDGET_BYTES = Math.floor(STATE_PAYLOAD_LIMIT_BYTES * (1 - STATE_HEADROOM_SHARE));

/** A run id as the plan step makes them (a UUID), for a stand-in state of the right size. */
const STAND_IN_RUN_ID = '00000000-0000-4000-8000-000000000000';

/**
 * The plan's shards as deployed: each may keep in flight its share of
 * `maxInFlight`, and never less than {@link PLANNED_HANDSHAKE_SECONDS} of its
 * share of the rate (112 workers at 1,000/s keep 9 each, not 1).
 */
export function deployedShards(plan: Pick<ProbePlan, 'shards'>): ShardPlan[] {
  return plan.shards.map((shard) => ({
    ...shard,
    maxInFlight: Math.max(shard.maxInFlight, Math.ceil(shard.connectRate * PLANNED_HANDSHAKE_SECONDS)),
  }));
}

/**
 * The state the plan step returns for a run of `target` planned at
 * `plannedAt` (epoch milliseconds) as `plan`: the run, the target, the plan
 * and one task per shard, which the worker map runs over.
 */
export function runState(target: TargetConfig, plan: ProbePlan, plannedAt: number) {
  const shards = deployedShards(plan);
  const deployed = { ...plan, shards };
  return {
    runId: plan.runId,
    target,
    plannedAt,
    plan: deployed,
    shardTasks: shards.map((shard) => ({
      runId: plan.runId,
      target,
      plannedAt,
      stages: plan.stages,
      shard,
      shardCount: shards.length,
    })),
  };
}

/**
 * Bytes the record step's input takes: the plan step's state plus a map
 * result per shard at {@link MAP_RESULT_ALLOWANCE_BYTES} each.
 */
export function recordInputBytes(state: { shardTasks: readonly unknown[] }): number {
  return Buffer.byteLength(JSON.stringify(state)) + state.shardTasks.length * MAP_RESULT_ALLOWANCE_BYTES;
}

/** The record step's input size of a stand-in run of `target`, as the plan step would lay it out now. */
export function standInRecordInputBytes(target: TargetConfig): number {
  const plannedAt = Date.now();
  const plan = planRun(settingsWithoutSecrets(target), {
    now: () => plannedAt,
    newRunId: () => STAND_IN_RUN_ID,
    startDelayMs: 0,
  });
  return recordInputBytes(runState(target, plan, plannedAt));
}

/** True when a record step input of `bytes` fits a Step Functions state, headroom kept. */
export function fitsState(bytes: number): boolean {
  return bytes <= STATE_BUDGET_BYTES;
}

/** What a state over the budget is measured against, in words. */
export function stateBudgetWords(): string {
  return (
    `the ${Math.floor(STATE_BUDGET_BYTES / 1024)} KB a run may use of the ${STATE_PAYLOAD_LIMIT_BYTES / 1024} KB ` +
    `Step Functions allows for a state (${Math.round(STATE_HEADROOM_SHARE * 100)} % kept for what varies between runs)`
  );
}
