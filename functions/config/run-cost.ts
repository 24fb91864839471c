/**
 * What a target's deployed runs cost in AWS Lambda, as an upper bound: every
 * Lambda of a run (the workers, plan and record) is billed for its whole
 * timeout, retries aside. `ws-ceiling config check` prints it per run
 * and per month from the schedule. Step Functions, DynamoDB, S3, CloudWatch
 * and data transfer are not included. Pure.
 */
import { PLAN_MEMORY_MB, PLAN_TIMEOUT_SECONDS, RECORD_MEMORY_MB, RECORD_TIMEOUT_SECONDS } from './run-budget.js';
import { InvalidInputError } from '../engine/errors.js';
import type { TargetConfig } from './config-types.js';
import { parseCron, runsPerMonth } from './cron-schedule.js';
import { shardCount, workerTimeoutSeconds } from './worker-budget.js';

/**
 * AWS Lambda arm64 duration price, USD per GB-second: US East (N. Virginia),
 * first tier (up to 7.5 billion GB-seconds a month), from
 * https://aws.amazon.com/lambda/pricing/ as read on 2026-11-22. Other regions
 * cost about the same or a little more.
 */
export const LAMBDA_ARM64_USD_PER_GB_SECOND = 0.0000133334;

/** AWS Lambda request price, USD per invocation ($0.20 per million), same source and date. */
export const LAMBDA_USD_PER_REQUEST = 0.2 / 1_000_000;

/** The plan and record functions of every run, with the budget the CDK constructs give them. */
const STEP_LAMBDAS = [
  { name: 'plan', memoryMb: PLAN_MEMORY_MB, timeoutSeconds: PLAN_TIMEOUT_SECONDS },
  { name: 'record', memoryMb: RECORD_MEMORY_MB, timeoutSeconds: RECORD_TIMEOUT_SECONDS },
] as const;

/** The Lambda cost of one target's runs. */
export interface TargetCost {
  /** Worker Lambdas per run. */
  shards: number;
  workerMemoryMb: number;
  workerTimeoutSeconds: number;
  /** GB-seconds one run is billed at most (workers, plan and record). */
  gbSecondsPerRun: number;
  /** Lambda invocations per run (workers, plan and record). */
  requestsPerRun: number;
  /** USD one run in one region costs at most. */
  usdPerRun: number;
  /** Scheduled runs in one region in an average month (0 when the target is disabled). */
  runsPerMonth: number;
  /** Regions the monthly figure counts. */
  regions: number;
  /** USD the scheduled runs of all `regions` cost at most in an average month. */
  usdPerMonth: number;
}

/**
 * The upper-bound Lambda cost of `target`: per run (in one region) and per
 * average month of its schedule over `regions` regions (default: all of the
 * target's). Runs started by `ws-ceiling invoke` come on top.
 */
export function estimateTargetCost(target: TargetConfig, regions: number = target.regions.length): TargetCost {
  const shards = shardCount(target.plan);
  const timeout = workerTimeoutSeconds(target.plan);
  const stepMbSeconds = STEP_LAMBDAS.reduce((sum, step) => sum + step.memoryMb * step.timeoutSeconds, 0);
  const gbSecondsPerRun = (shards * target.workerMemoryMb * timeout + stepMbSeconds) / 1024;
  const requestsPerRun = shards + STEP_LAMBDAS.length;
  const usdPerRun = gbSecondsPerRun * LAMBDA_ARM64_USD_PER_GB_SECOND + requestsPerRun * LAMBDA_USD_PER_REQUEST;
  const monthly = target.enabled ? scheduledRunsPerMonth(target.schedule.cron) : 0;
  return {
    shards,
    workerMemoryMb: target.workerMemoryMb,
    workerTimeoutSeconds: timeout,
    gbSecondsPerRun,
    requestsPerRun,
    usdPerRun,
    runsPerMonth: monthly,
    regions,
    usdPerMonth: usdPerRun * monthly * regions,
  };
}

/** Runs a validated cron makes in an average month. */
function scheduledRunsPerMonth(cron: string): number {
  const parsed = parseCron(cron);
  if ('problem' in parsed) throw new InvalidInputError('schedule.cron', `"${cron}" ${parsed.problem}`);
  return runsPerMonth(parsed.cron);
}
