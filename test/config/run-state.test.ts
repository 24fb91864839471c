import { describe, expect, it } from 'vitest';
import { STATE_PAYLOAD_LIMIT_BYTES } from '../../functions/config/aws-limits.js';
import {
  deployedShards,
  fitsState,
  MAP_RESULT_ALLOWANCE_BYTES,
  recordInputBytes,
  runState,
  STATE_BUDGET_BYTES,
} from '../../functions/config/run-state.js';
import { parseTargetConfig } from '../../functions/config/target-config.js';
import { settingsWithoutSecrets } from '../../functions/config/target-settings.js';
import { planRun } from '../../functions/engine/plan.js';

/** A validated target probing `plan`. */
function target(plan: Record<string, unknown>) {
  return parseTargetConfig(
    {
      id: 'big',
      url: 'wss://chat.example.com/',
      regions: ['eu-west-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
      plan,
    },
    'test',
  );
}

describe('deployedShards', () => {
  it("keeps at least a second of each worker's share of the rate in flight, not a bound of 1", () => {
    const big = target({ stages: [50_000, 100_000], connectRate: 1000, maxConnections: 100_000, holdSeconds: 30 });
    const plan = planRun(settingsWithoutSecrets(big), { now: () => 0, newRunId: () => 'r', startDelayMs: 0 });
    // 112 workers share maxInFlight 100: one each, which holds a worker at 8.9/s to handshakes under 112 ms.
    expect(plan.shards).toHaveLength(112);
    expect(plan.shards.every((shard) => shard.maxInFlight === 1)).toBe(true);
    expect(deployedShards(plan).map((shard) => shard.maxInFlight)).toEqual(Array.from({ length: 112 }, () => 9));
    // A plan whose share of maxInFlight is already more keeps it.
    const small = target({ stages: [100, 200], connectRate: 10 });
    const smallPlan = planRun(settingsWithoutSecrets(small), { now: () => 0, newRunId: () => 'r', startDelayMs: 0 });
    expect(deployedShards(smallPlan)).toEqual(smallPlan.shards);
  });
});

describe('runState', () => {
  it('gives every worker a task with the target, the stages and its shard, and counts the record step input', () => {
    const chat = target({ stages: [1000, 2000] });
    const plan = planRun(settingsWithoutSecrets(chat), { now: () => 5, newRunId: () => 'run-1', startDelayMs: 0 });
    const state = runState(chat, plan, 5);
    expect(state.shardTasks).toHaveLength(3);
    expect(state.shardTasks[2]).toEqual({
      runId: 'run-1',
      target: chat,
      plannedAt: 5,
      stages: plan.stages,
      shard: state.plan.shards[2],
      shardCount: 3,
    });
    expect(recordInputBytes(state)).toBe(Buffer.byteLength(JSON.stringify(state)) + 3 * MAP_RESULT_ALLOWANCE_BYTES);
  });

  it('lets a run use 95 % of the 256 KB of a state', () => {
    expect(STATE_BUDGET_BYTES).toBe(Math.floor(STATE_PAYLOAD_LIMIT_BYTES * 0.95));
    expect(fitsState(STATE_BUDGET_BYTES)).toBe(true);
    expect(fitsState(STATE_BUDGET_BYTES + 1)).toBe(false);
  });
});
