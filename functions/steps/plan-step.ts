/**
 * The deployed plan step: validates the run's input again (the same schema
 * as the config file), refuses a target whose host is not on the stack's
 * allowlist, lays the run out with `planRun` so that every worker starts
 * together after the cold-start delay, refuses a run with more or fewer
 * shards than the deployed map starts at once, and hands the worker map one
 * task per shard. No secret is read here: header values are resolved by each worker.
 */
import type { TargetConfig } from '../config/config-types.js';
import { estimateTargetCost } from '../config/run-cost.js';
import { parseTargetConfig } from '../config/target-config.js';
import { settingsWithoutSecrets } from '../config/target-settings.js';
import { WORKER_START_DELAY_SECONDS } from '../config/worker-budget.js';
import { assertAllowedHost } from './allowed-hosts.js';
import { InvalidInputError } from '../engine/errors.js';
import type { Logger } from '../engine/logger.js';
import { round } from '../engine/units.js';
import { expectedSeconds, planRun } from '../engine/plan.js';
import { redactUrl } from '../engine/redact.js';
import type { PlanStepInput, PlanStepOutput, RunRequest } from './step-payloads.js';

/** Where the target is in the execution input, as named in validation errors. */
const RUN_REQUEST_TARGET_FIELD = 'input.target';

/** Where the plan Lambda's event holds the map's shard count, as named in validation errors. */
const SHARDS_AT_ONCE_FIELD = 'event.shardsAtOnce';

/** Step Functions' limit on the input or output of a state, in bytes. */
const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/**
 * Room kept per shard for its map result in the record step's input: a
 * WorkerOutput is about 150 bytes; a FailedShard holds the error's cause,
 * which the worker handler keeps under this (functions/handlers/compact-error.ts).
 */
export const MAP_RESULT_ALLOWANCE_BYTES = 512;

/** What the plan step needs besides its input. */
export interface PlanStepDependencies {
  /** Hosts a target URL may point at (the stack's allowlist). */
  allowedHosts: readonly string[];
  /** Current time, epoch milliseconds. */
  now: () => number;
  newRunId: () => string;
  log: Logger;
}

/**
 * Plans one deployed run from the plan Lambda's event ({@link PlanStepInput}):
 * 1. validates the execution input's target (an InvalidInputError names the
 *    bad field under `input.target`);
 * 2. refuses a URL whose host is not in `allowedHosts`;
 * 3. plans with `planRun`, the first stage starting `WORKER_START_DELAY_SECONDS` from now;
 * 4. refuses a plan whose shard count is not the one the deployed map starts
 *    at once (a hand-started run with another plan would start shards late);
 * 5. refuses a plan whose state, with the workers' results added, would
 *    pass Step Functions' payload limit (the record step could not start);
 * 6. logs the plan and its Lambda cost estimate (no secret);
 * 7. returns the plan with one ShardTask per shard.
 */
export function planStep(event: unknown, deps: PlanStepDependencies): PlanStepOutput {
  const { request, shardsAtOnce } = planStepInputOf(event);
  const target = parseTargetConfig(targetOf(request), RUN_REQUEST_TARGET_FIELD);
  assertAllowedHost(target.url, deps.allowedHosts, `${RUN_REQUEST_TARGET_FIELD}.url`);
  const plannedAt = deps.now();
  const plan = planRun(settingsWithoutSecrets(target), {
    now: () => plannedAt,
    newRunId: deps.newRunId,
    startDelayMs: WORKER_START_DELAY_SECONDS * 1000,
  });
  const output: PlanStepOutput = {
    runId: plan.runId,
    target,
    plannedAt,
    plan,
    shardTasks: plan.shards.map((shard) => ({
      runId: plan.runId,
      target,
      plannedAt,
      stages: plan.stages,
      shard,
      shardCount: plan.shards.length,
    })),
  };
  assertShardsStartTogether(plan.shards.length, shardsAtOnce, target);
  assertStateFits(output);
  const cost = estimateTargetCost(target, 1);
  deps.log.info('run planned', {
    runId: plan.runId,
    targetId: target.id,
    trigger: triggerOf(request),
    url: redactUrl(target.url),
    headers: Object.keys(target.headers),
    startAt: new Date(plan.startAt).toISOString(),
    endsAt: new Date(plan.endsAt).toISOString(),
    stages: plan.stages.map((stage) => stage.target),
    holdSeconds: plan.holdSeconds,
    connectRate: plan.connectRate,
    shards: plan.shards.length,
    estimate: {
      rampAndHoldSeconds: expectedSeconds(plan),
      workerTimeoutSeconds: cost.workerTimeoutSeconds,
      workerMemoryMb: cost.workerMemoryMb,
      lambdaGbSecondsAtMost: round(cost.gbSecondsPerRun, 1),
      lambdaUsdAtMost: round(cost.usdPerRun, 4),
    },
  });
  return output;
}

/**
 * Throws an InvalidInputError on the target's plan when its shard count is
 * not `shardsAtOnce`, the number the deployed map starts at once (fixed at
 * synth from the deployed config's plan). More shards would start late and
 * distort the global timeline; fewer mean the run is not the deployed plan.
 */
function assertShardsStartTogether(shards: number, shardsAtOnce: number, target: TargetConfig): void {
  if (shards === shardsAtOnce) return;
  const last = target.plan.stages[target.plan.stages.length - 1] ?? 0;
  throw new InvalidInputError(
    `${RUN_REQUEST_TARGET_FIELD}.plan`,
    `makes ${shards} shard${shards === 1 ? '' : 's'} (${last} connections at shardSize ${target.plan.shardSize}` +
      `), but the deployed state machine starts ${shardsAtOnce} at once: ` +
      'its workers would not all start together. Deploy the config that holds this plan (npx cdk deploy), or run ' +
      'the deployed plan with ws-ceiling invoke',
  );
}

/**
 * Throws an InvalidInputError on the plan's stages when the record step's
 * input (this output plus one map result per shard, at
 * {@link MAP_RESULT_ALLOWANCE_BYTES} each) would pass {@link STATE_PAYLOAD_LIMIT_BYTES}.
 * Every shard task repeats the target and the stages, so the size grows
 * with shards × stages.
 */
function assertStateFits(output: PlanStepOutput): void {
  const shards = output.shardTasks.length;
  const bytes = Buffer.byteLength(JSON.stringify(output)) + shards * MAP_RESULT_ALLOWANCE_BYTES;
  if (bytes <= STATE_PAYLOAD_LIMIT_BYTES) return;
  throw new InvalidInputError(
    `${RUN_REQUEST_TARGET_FIELD}.plan.stages`,
    `${output.plan.stages.length} stages over ${shards} shards make a run state of about ${Math.ceil(bytes / 1024)}` +
      ` KB, above the ${STATE_PAYLOAD_LIMIT_BYTES / 1024} KB Step Functions allows; use fewer stages, or a ` +
      'shardSize closer to 900 (fewer shards)',
  );
}

/** The execution input and the map's shard count from the plan Lambda's event; throws naming a bad shard count. */
function planStepInputOf(event: unknown): PlanStepInput {
  const fields = typeof event === 'object' && event !== null ? (event as Partial<PlanStepInput>) : {};
  const { shardsAtOnce } = fields;
  if (typeof shardsAtOnce !== 'number' || !Number.isInteger(shardsAtOnce) || shardsAtOnce < 1) {
    throw new InvalidInputError(
      SHARDS_AT_ONCE_FIELD,
      'must be the whole number of shards the deployed map starts at once (1 or more), ' +
        `got ${JSON.stringify(shardsAtOnce) ?? 'nothing'}; the state machine sets it: deploy the stack again`,
    );
  }
  return { request: fields.request, shardsAtOnce };
}

/** The `target` of a run request, or undefined when the input is not an object. */
function targetOf(request: unknown): unknown {
  return typeof request === 'object' && request !== null ? (request as Partial<RunRequest>).target : undefined;
}

/** What started the run, for the log. */
function triggerOf(request: unknown): string {
  const trigger =
    typeof request === 'object' && request !== null ? (request as Partial<RunRequest>).trigger : undefined;
  return typeof trigger === 'string' ? trigger : 'unknown';
}
