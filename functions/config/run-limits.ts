/**
 * Every limit a deployed run must fit, checked by the same functions at
 * `ws-ceiling config check`, at `cdk synth` (both through the config schema)
 * and in the plan step of every run (which validates its target with the
 * same schema, then measures its real state): one worker Lambda must hold
 * the whole plan, the run's state must fit Step Functions, the map must be
 * able to start every shard at once, the execution's history must stay
 * within its events, a reserved concurrency must cover the workers, and the
 * schedule must not fire again before a run of the target can finish. Each
 * problem names the field to change and how. The limits are in aws-limits.ts.
 */
import { round } from '../engine/units.js';
import {
  DISTRIBUTED_MAP_MAX_CONCURRENCY,
  EXECUTION_HISTORY_EVENT_LIMIT,
  INLINE_MAP_MAX_CONCURRENCY,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  SCHEDULE_NAME_MAX_LENGTH,
} from './aws-limits.js';
import type { PlanConfig, TargetConfig } from './config-types.js';
import { parseCron } from './cron-schedule.js';
import { scheduleFireGaps } from './expected-every-hours.js';
import { regionSpreadMinutes, regionStarts, RUN_SPACING_MARGIN_SECONDS, worstCaseRunSeconds } from './region-starts.js';
import type { ResourceNames } from './resource-names.js';
import { fitsState, standInRecordInputBytes, stateBudgetWords } from './run-state.js';
import {
  planSeconds,
  shardCount,
  WORKER_CLOSE_GRACE_SECONDS,
  WORKER_START_DELAY_SECONDS,
  WORKER_STOP_MARGIN_MS,
  workerTimeoutSeconds,
} from './worker-budget.js';

/** A limit a field breaks: the field's path (under the target) and what to do. */
export interface LimitProblem {
  path: Array<string | number>;
  message: string;
}

/**
 * History events of an execution besides those of the map's iterations: the
 * start, the stagger wait, the plan task (entered, scheduled, started,
 * succeeded, exited), the choices, the map's own events and the record task
 * with its retries, with room to spare.
 */
const FIXED_HISTORY_EVENTS = 60;

/** History events one inline map iteration adds: started, the worker task's five, a caught failure's two, ended. */
const HISTORY_EVENTS_PER_INLINE_SHARD = 9;

/** Seconds a worker Lambda keeps for starting together, closing and uploading around the plan. */
const WORKER_OVERHEAD_SECONDS = WORKER_START_DELAY_SECONDS + WORKER_CLOSE_GRACE_SECONDS + WORKER_STOP_MARGIN_MS / 1000;

/** The first limit `plan` breaks on its own: the worker Lambda's duration, or the map's concurrency. */
export function planLimitProblem(plan: PlanConfig): LimitProblem | undefined {
  return workerDurationProblem(plan) ?? mapConcurrencyProblem(plan) ?? historyProblem(shardCount(plan));
}

/**
 * The first limit a whole target breaks: its run's state (which repeats the
 * target in every shard's task), its reserved concurrency, or a schedule
 * that fires again before a run can finish in every region.
 */
export function targetLimitProblem(target: TargetConfig): LimitProblem | undefined {
  return stateSizeProblem(target) ?? reservedConcurrencyProblem(target) ?? scheduleOverlapProblem(target);
}

/**
 * The physical name of one of the target's resources that AWS would refuse:
 * the schedule's name is at most 64 characters, and the deployment's name
 * comes before the target id in it.
 */
export function resourceNameProblem(target: Pick<TargetConfig, 'id'>, names: ResourceNames): LimitProblem | undefined {
  const schedule = names.schedule(target.id);
  if (schedule.length <= SCHEDULE_NAME_MAX_LENGTH) return undefined;
  const room = SCHEDULE_NAME_MAX_LENGTH - names.schedule('').length;
  return {
    path: ['id'],
    message:
      `makes the schedule name ${schedule} ${schedule.length} characters long, above the ` +
      `${SCHEDULE_NAME_MAX_LENGTH} EventBridge Scheduler allows; use an id of at most ${room} characters` +
      (names.deployment === undefined ? '' : ' or a shorter name'),
  };
}

/**
 * A plan one worker Lambda cannot run within its 15 minutes. The message
 * says which part is long: the ramps (a low `connectRate`, the field then)
 * or the holds (`holdSeconds`), and what would fit.
 */
function workerDurationProblem(plan: PlanConfig): LimitProblem | undefined {
  const timeout = workerTimeoutSeconds(plan);
  if (timeout <= LAMBDA_MAX_TIMEOUT_SECONDS) return undefined;
  const room = LAMBDA_MAX_TIMEOUT_SECONDS - WORKER_OVERHEAD_SECONDS;
  const total = planSeconds(plan);
  const holds = plan.stages.length * plan.holdSeconds;
  const ramps = total - holds;
  const stages = `${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'}`;
  const rampsLonger = ramps > holds;
  const connections = plan.stages[plan.stages.length - 1] ?? 0;
  const fixes =
    holds < room
      ? `raise connectRate to at least ${Math.ceil((connections / (room - holds)) * 10) / 10} (the ramps would ` +
        `then fit beside the holds), shorten holdSeconds, or plan fewer stages`
      : `shorten holdSeconds to at most ${Math.floor((room - ramps) / plan.stages.length)} s or plan fewer stages` +
        (ramps > 0 ? ', and raise connectRate' : '');
  return {
    path: [rampsLonger ? 'connectRate' : 'holdSeconds'],
    message:
      `makes the plan too long for one worker Lambda run: ${stages} take ${Math.ceil(total)} s (ramps at ` +
      `connectRate ${plan.connectRate}/s: ${Math.ceil(ramps)} s; holds of ${plan.holdSeconds} s: ` +
      `${round(holds, 1)} s)` +
      `, and with ${WORKER_OVERHEAD_SECONDS} s for start, close and upload a worker needs ${timeout} s, above ` +
      `Lambda's ${LAMBDA_MAX_TIMEOUT_SECONDS} s; keep the plan to ${room} s: ${fixes}`,
  };
}

/** A plan with more shards than a Distributed Map starts at once. */
function mapConcurrencyProblem(plan: PlanConfig): LimitProblem | undefined {
  const shards = shardCount(plan);
  if (shards <= DISTRIBUTED_MAP_MAX_CONCURRENCY) return undefined;
  return {
    path: ['shardSize'],
    message:
      `makes ${shards} workers, but Step Functions starts at most ${DISTRIBUTED_MAP_MAX_CONCURRENCY} at once, so ` +
      'they would not all start together; raise shardSize (up to 900) or plan fewer connections',
  };
}

/** History events of one execution with `shards` workers, and whether they stay under the limit. */
export function executionHistoryEvents(shards: number): number {
  // A Distributed Map's iterations are child executions with histories of their own.
  return FIXED_HISTORY_EVENTS + (shards <= INLINE_MAP_MAX_CONCURRENCY ? shards * HISTORY_EVENTS_PER_INLINE_SHARD : 0);
}

/** A run whose execution history would pass Step Functions' 25,000 events. */
function historyProblem(shards: number): LimitProblem | undefined {
  const events = executionHistoryEvents(shards);
  if (events <= EXECUTION_HISTORY_EVENT_LIMIT) return undefined;
  return {
    path: ['shardSize'],
    message:
      `makes an execution history of about ${events} events, above the ${EXECUTION_HISTORY_EVENT_LIMIT} Step ` +
      'Functions allows; raise shardSize (fewer workers)',
  };
}

/**
 * A run whose state, with every worker's result added, would pass the
 * 256 KiB of a Step Functions state: every worker's task repeats the target
 * and the stages, so the size grows with workers × stages. Says how many
 * stages would fit, and whether a larger shardSize would.
 */
function stateSizeProblem(target: TargetConfig): LimitProblem | undefined {
  const bytes = standInRecordInputBytes(target);
  if (fitsState(bytes)) return undefined;
  const { stages, shardSize } = target.plan;
  const shards = shardCount(target.plan);
  let fitting = 0;
  for (let count = stages.length - 1; count >= 1 && fitting === 0; count -= 1) {
    const fewer = { ...target, plan: { ...target.plan, stages: stages.slice(stages.length - count) } };
    if (fitsState(standInRecordInputBytes(fewer))) fitting = count;
  }
  const larger = { ...target, plan: { ...target.plan, shardSize: 900 } };
  const widerFits = shardSize < 900 && fitsState(standInRecordInputBytes(larger));
  const fixes = [
    ...(fitting > 0 ? [`plan at most ${fitting} stage${fitting === 1 ? '' : 's'}`] : []),
    ...(widerFits ? ['raise shardSize to 900 (fewer workers)'] : []),
    'or fewer connections',
  ];
  return {
    path: ['plan', 'stages'],
    message:
      `${stages.length} stages over ${shards} workers make a run state of about ${Math.ceil(bytes / 1024)} KB, ` +
      `above ${stateBudgetWords()}: every worker's task repeats the target and the stages; ${fixes.join(', ')}`,
  };
}

/** A reserved concurrency under the workers one run starts at once. */
function reservedConcurrencyProblem(target: TargetConfig): LimitProblem | undefined {
  const reserved = target.reservedConcurrency;
  const shards = shardCount(target.plan);
  if (reserved === undefined || reserved >= shards) return undefined;
  return {
    path: ['reservedConcurrency'],
    message:
      `${reserved} is under the ${shards} workers a run starts at once, so ${shards - reserved} of them would be ` +
      `throttled and the run could not claim a ceiling; reserve at least ${shards}, or leave it out`,
  };
}

/**
 * A cron that fires again before the runs it started can all have finished:
 * in every region, staggered, at their worst.
 */
function scheduleOverlapProblem(target: TargetConfig): LimitProblem | undefined {
  if ('problem' in parseCron(target.schedule.cron)) return undefined;
  const { smallestSeconds } = scheduleFireGaps(target.schedule, new Date().getUTCFullYear());
  const spread = regionSpreadMinutes(regionStarts(target));
  const needed = spread * 60 + worstCaseRunSeconds(target.plan) + RUN_SPACING_MARGIN_SECONDS;
  if (smallestSeconds >= needed) return undefined;
  const regions = target.regions.length;
  const across = regions > 1 ? `, its ${regions} regions staggered over ${spread} min,` : '';
  return {
    path: ['schedule', 'cron'],
    message:
      `"${target.schedule.cron}" fires again ${round(smallestSeconds / 60, 1)} min after a run starts, but a run ` +
      `of ${target.id} can take up to ${Math.ceil(worstCaseRunSeconds(target.plan) / 60)} min${across} and ` +
      `needs ${Math.ceil(needed / 60)} min before the next: schedule it less often or shorten the plan`,
  };
}
