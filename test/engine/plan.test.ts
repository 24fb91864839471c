import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { expectedSeconds, planRun } from '../../functions/engine/plan.js';
import type { ProbeSettings } from '../../functions/engine/types.js';

const settings: ProbeSettings = {
  url: 'ws://127.0.0.1:1/',
  targetId: 't',
  stages: [50, 100, 150],
  holdSeconds: 10,
  connectRate: 25,
  maxInFlight: 100,
  handshakeTimeoutSeconds: 10,
  heartbeat: { kind: 'off' },
  headers: {},
  subprotocols: [],
  tolerance: { kind: 'count', value: 0 },
  maxConnections: 5000,
  shardSize: 900,
  stopAtFirstFailingStage: true,
  regressionTolerance: 0.1,
  baselineRuns: 7,
};
const deps = { now: () => 1_000_000, newRunId: () => 'run-1', startDelayMs: 500 };

describe('planRun', () => {
  it('schedules each stage after the previous hold, ramping its new connections at the connect rate', () => {
    const plan = planRun(settings, deps);
    expect(plan.startAt).toBe(1_000_500);
    expect(
      plan.stages.map((stage) => [
        stage.target,
        stage.newConnections,
        stage.startAt,
        stage.rampEndsAt,
        stage.holdEndsAt,
      ]),
    ).toEqual([
      [50, 50, 1_000_500, 1_002_500, 1_012_500],
      [100, 50, 1_012_500, 1_014_500, 1_024_500],
      [150, 50, 1_024_500, 1_026_500, 1_036_500],
    ]);
    expect(expectedSeconds(plan)).toBe(36);
    expect(plan.runId).toBe('run-1');
  });

  it('splits into shards of at most the shard size whose shares add up to every stage target', () => {
    const plan = planRun(
      { ...settings, stages: [1000, 2000, 2500], shardSize: 900, connectRate: 300, maxInFlight: 100 },
      deps,
    );
    expect(plan.shards).toHaveLength(3);
    for (let stage = 0; stage < 3; stage += 1) {
      const added = plan.shards.reduce((sum, shard) => sum + (shard.newPerStage[stage] ?? 0), 0);
      expect(added).toBe(plan.stages[stage]?.newConnections);
    }
    for (const shard of plan.shards) {
      expect(shard.newPerStage.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(900);
      expect(shard.connectRate).toBe(100);
      expect(shard.maxInFlight).toBe(34);
    }
  });

  it('refuses a plan above the --max-connections safety cap', () => {
    expect(() => planRun({ ...settings, maxConnections: 120 }, deps)).toThrow(InvalidInputError);
    expect(() => planRun({ ...settings, maxConnections: 120 }, deps)).toThrow(
      /maximum 150 is above the safety cap --max-connections 120/,
    );
  });

  it('refuses stages that do not rise', () => {
    expect(() => planRun({ ...settings, stages: [100, 50] }, deps)).toThrow(/rising/);
  });
});
