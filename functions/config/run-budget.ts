/**
 * The budget of a deployed run's plan and record functions (memory, timeout,
 * retries) and the state machine's timeout built from those and the worker's
 * timeout. Pure arithmetic shared by the CDK constructs, the cost estimate
 * and `ws-ceiling invoke`, so it is tested on its own.
 */

/** Plan function memory. */
export const PLAN_MEMORY_MB = 256;

/** Record function memory: it holds every shard's records at once. */
export const RECORD_MEMORY_MB = 1024;

/** Plan function timeout: validation and arithmetic only. */
export const PLAN_TIMEOUT_SECONDS = 30;

/** Record function timeout: read every shard result from S3, analyse, write the item, publish metrics. */
export const RECORD_TIMEOUT_SECONDS = 120;

/** Retries of the record step (it is idempotent: a retry finds the run already written). */
export const RECORD_RETRY = { maxAttempts: 3, intervalSeconds: 5, backoffRate: 2 } as const;

/**
 * Allowance for the plan step's own retries on Lambda service errors and for
 * starting the workers (a Distributed Map starts one child execution per shard).
 */
export const FAN_OUT_ALLOWANCE_SECONDS = 300;

/** Worst-case seconds of the record step: every attempt times out, with the waits between them. */
export function recordBudgetSeconds(): number {
  let waits = 0;
  for (let retry = 0; retry < RECORD_RETRY.maxAttempts; retry += 1) {
    waits += RECORD_RETRY.intervalSeconds * RECORD_RETRY.backoffRate ** retry;
  }
  return RECORD_TIMEOUT_SECONDS * (RECORD_RETRY.maxAttempts + 1) + waits;
}

/**
 * The state machine's timeout for a target whose workers may run for
 * `workerTimeoutSeconds`: plan and fan-out allowance, then the workers, then
 * the record step's worst case. A run still going after that is stuck.
 */
export function stateMachineTimeoutSeconds(workerTimeoutSeconds: number): number {
  if (!Number.isFinite(workerTimeoutSeconds) || workerTimeoutSeconds <= 0) {
    throw new RangeError(`workerTimeoutSeconds must be a positive number of seconds, got ${workerTimeoutSeconds}`);
  }
  return PLAN_TIMEOUT_SECONDS + FAN_OUT_ALLOWANCE_SECONDS + Math.ceil(workerTimeoutSeconds) + recordBudgetSeconds();
}
