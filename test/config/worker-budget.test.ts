import { describe, expect, it } from 'vitest';
import type { PlanConfig } from '../../functions/config/config-types.js';
import { LAMBDA_MAX_TIMEOUT_SECONDS } from '../../functions/config/aws-limits.js';
import {
  planSeconds,
  shardCount,
  WORKER_CLOSE_GRACE_SECONDS,
  WORKER_START_DELAY_SECONDS,
  WORKER_STOP_MARGIN_MS,
  workerTimeoutSeconds,
} from '../../functions/config/worker-budget.js';

/** A plan with the config defaults and `overrides`. */
function plan(overrides: Partial<PlanConfig> = {}): PlanConfig {
  return {
    stages: [50, 100],
    holdSeconds: 60,
    connectRate: 50,
    maxInFlight: 100,
    handshakeTimeoutSeconds: 10,
    shardSize: 900,
    maxConnections: 2000,
    stopAtFirstFailingStage: true,
    ...overrides,
  };
}

describe('shardCount', () => {
  it.each([
    [[900], 1],
    [[901], 2],
    [[250, 2500], 3],
    [[100], 1],
  ])('splits stages %j into %i worker Lambdas of at most 900 connections', (stages, shards) => {
    expect(shardCount(plan({ stages, maxConnections: 3000 }))).toBe(shards);
  });

  it('follows a smaller shard size', () => {
    expect(shardCount(plan({ stages: [1000], shardSize: 100 }))).toBe(10);
  });
});

describe('planSeconds', () => {
  it('adds each stage ramp at the connect rate and its hold', () => {
    // 100 new at 50/s = 2 s, then 10 s hold; twice.
    expect(planSeconds(plan({ stages: [100, 200], connectRate: 50, holdSeconds: 10 }))).toBe(24);
  });

  it('rounds a partial ramp second up to the millisecond as the plan step does', () => {
    expect(planSeconds(plan({ stages: [10], connectRate: 3, holdSeconds: 1 }))).toBe(4.334);
  });
});

describe('workerTimeoutSeconds', () => {
  it('adds the start delay, close grace and stop margin to the plan, rounded up', () => {
    const overhead = WORKER_START_DELAY_SECONDS + WORKER_CLOSE_GRACE_SECONDS + WORKER_STOP_MARGIN_MS / 1000;
    expect(overhead).toBe(45);
    expect(workerTimeoutSeconds(plan({ stages: [100, 200], connectRate: 50, holdSeconds: 10 }))).toBe(24 + overhead);
    expect(workerTimeoutSeconds(plan({ stages: [10], connectRate: 3, holdSeconds: 1 }))).toBe(50);
  });

  it('keeps the default plan (50 to 500 by 50, held 60 s) within one Lambda run', () => {
    const stages = Array.from({ length: 10 }, (_, index) => 50 * (index + 1));
    expect(workerTimeoutSeconds(plan({ stages }))).toBe(655);
    expect(workerTimeoutSeconds(plan({ stages }))).toBeLessThanOrEqual(LAMBDA_MAX_TIMEOUT_SECONDS);
  });
});
