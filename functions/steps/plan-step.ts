/**
 * The deployed plan step: validates the run's input again (the same schema
 * as the config file, so the same limits as `config check` and synth),
 * refuses a target whose host is not on the stack's allowlist, lays the run
 * out with `planRun` so that every worker starts together after the
 * cold-start delay, refuses a run with more or fewer shards than the deployed
 * map starts at once or whose real state would not fit Step Functions, then
 * takes the target's run lock: a run that finds another one holding it is
 * handed on as skipped and probes nothing. No secret is read here: header
 * values are resolved by each worker.
 */
import type { TargetConfig } from '../config/config-types.js';
import { worstCaseRunSeconds } from '../config/region-starts.js';
import { estimateTargetCost } from '../config/run-cost.js';
import { fitsState, recordInputBytes, runState, stateBudgetWords } from '../config/run-state.js';
import { parseTargetConfig } from '../config/target-config.js';
import { settingsWithoutSecrets } from '../config/target-settings.js';
import { WORKER_START_DELAY_SECONDS } from '../config/worker-budget.js';
import { assertAllowedHost } from './allowed-hosts.js';
import { InvalidInputError } from '../engine/errors.js';
import type { Logger } from '../engine/logger.js';
import { round } from '../engine/units.js';
import { expectedSeconds, planRun } from '../engine/plan.js';
import { redactUrl } from '../engine/redact.js';
import type { RunLocks } from './run-locks.js';
import type { PlanStepInput, PlanStepOutput, RunRequest } from './step-payloads.js';

/** Where the target is in the execution input, as named in validation errors. */
const RUN_REQUEST_TARGET_FIELD = 'input.target';

/** Where the plan Lambda's event holds the map's shard count, as named in validation errors. */
const SHARDS_AT_ONCE_FIELD = 'event.shardsAtOnce';

/** What the plan step needs besides its input. */
export interface PlanStepDependencies {
  /** Hosts a target URL may point at (the stack's allowlist). */
  allowedHosts: readonly string[];
  /** The targets' run locks (the runs table). */
  locks: Pick<RunLocks, 'acquire'>;
  /** Current time, epoch milliseconds. */
  now: () => number;
  newRunId: () => string;
  log: Logger;
}

/**
 * Plans one deployed run from the plan Lambda's event ({@link PlanStepInput}):
 * 1. validates the execution input's target (an InvalidInputError names the
 *    bad field under `input.target`), with every limit of run-limits.ts;
 * 2. refuses a URL whose host is not in `allowedHosts`;
 * 3. plans with `planRun`, the first stage starting `WORKER_START_DELAY_SECONDS` from now;
 * 4. refuses a plan whose shard count is not the one the deployed map starts
 *    at once (a hand-started run with another plan would start shards late);
 * 5. refuses a plan whose real state, with the workers' results added, would
 *    pass Step Functions' payload limit (the record step could not start);
 * 6. takes the target's run lock until the run's worst-case end; when another
 *    run holds it, returns the run as skipped, with no shard task;
 * 7. logs the plan and its Lambda cost estimate (no secret);
 * 8. returns the plan with one ShardTask per shard.
 */
export async function planStep(event: unknown, deps: PlanStepDependencies): Promise<PlanStepOutput> {
  const { request, shardsAtOnce } = planStepInputOf(event);
  const target = parseTargetConfig(targetOf(request), RUN_REQUEST_TARGET_FIELD);
  assertAllowedHost(target.url, deps.allowedHosts, `${RUN_REQUEST_TARGET_FIELD}.url`);
  const plannedAt = deps.now();
  const plan = planRun(settingsWithoutSecrets(target), {
    now: () => plannedAt,
    newRunId: deps.newRunId,
    startDelayMs: WORKER_START_DELAY_SECONDS * 1000,
  });
  const output: PlanStepOutput = runState(target, plan, plannedAt);
  assertShardsStartTogether(plan.shards.length, shardsAtOnce, target);
  assertStateFits(output);
  const log = deps.log.with({ runId: plan.runId, targetId: target.id });
  const until = plannedAt + worstCaseRunSeconds(target.plan) * 1000;
  const lock = await deps.locks.acquire(target.id, { runId: plan.runId, since: plannedAt, until });
  if (!lock.acquired) {
    const { holder } = lock;
    log.warn('run skipped: another run holds the lock', {
      heldBy: holder.runId,
      heldSince: new Date(holder.since).toISOString(),
      heldUntil: new Date(holder.until).toISOString(),
    });
    return { ...output, shardTasks: [], skipped: { heldBy: holder } };
  }
  const cost = estimateTargetCost(target, 1);
  log.info('run planned', {
    trigger: triggerOf(request),
    url: redactUrl(target.url),
    headers: Object.keys(target.headers),
    startAt: new Date(plan.startAt).toISOString(),
    endsAt: new Date(plan.endsAt).toISOString(),
    lockedUntil: new Date(until).toISOString(),
    stages: plan.stages.map((stage) => stage.target),
    holdSeconds: plan.holdSeconds,
    connectRate: plan.connectRate,
    shards: plan.shards.length,
    inFlightPerShard: output.plan.shards.map((shard) => shard.maxInFlight),
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
 * input (this output plus one map result per shard) would pass the 256 KiB
 * of a state. The config schema already refuses a target whose stand-in run
 * would not fit; this measures the real one.
 */
function assertStateFits(output: PlanStepOutput): void {
  const bytes = recordInputBytes(output);
  if (fitsState(bytes)) return;
  throw new InvalidInputError(
    `${RUN_REQUEST_TARGET_FIELD}.plan.stages`,
    `${output.plan.stages.length} stages over ${output.shardTasks.length} workers make a run state of about ` +
      `${Math.ceil(bytes / 1024)} KB, above ${stateBudgetWords()}; use fewer stages, or a shardSize closer to 900 ` +
      '(fewer workers)',
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
