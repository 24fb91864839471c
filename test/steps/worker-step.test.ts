import { describe, expect, it } from 'vitest';
import { recordStep } from '../../functions/steps/record-step.js';
import type { RunStore } from '../../functions/engine/run-store.js';
import { checkProbeBudget, describeSelfCheckProblems, type HostBudget } from '../../functions/engine/self-check.js';
import type { ShardResultOwner, ShardResultStore } from '../../functions/steps/shard-results.js';
import { shardResultKey } from '../../functions/steps/shard-results.js';
import type { ShardTask } from '../../functions/steps/step-payloads.js';
import type { RunResult, ShardResult } from '../../functions/engine/types.js';
import {
  shardDemand,
  workerStep,
  type ShardRunner,
  type WorkerStepDependencies,
} from '../../functions/steps/worker-step.js';
import { underResourceWatch } from '../../functions/connection/resource-watch.js';
import { createLogger } from '../../functions/handlers/log.js';
import { plannedRun, testTarget } from '../support/deployed-run.js';

/** A Lambda's budget with room for everything but what `overrides` shrinks. */
function budget(overrides: Partial<HostBudget> = {}): HostBudget {
  return {
    descriptorLimit: 1024,
    openDescriptors: 20,
    ephemeralPorts: { low: 32768, high: 60999 },
    freeMemoryBytes: 4 * 1024 ** 3,
    heapAvailableBytes: 2 * 1024 ** 3,
    ...overrides,
  };
}

/** Shard results kept in memory, by key. */
function memoryShardResults(): ShardResultStore & { objects: Map<string, ShardResult> } {
  const objects = new Map<string, ShardResult>();
  return {
    objects,
    putShardResult(owner: ShardResultOwner, result: ShardResult) {
      const key = shardResultKey(owner, result.shard);
      objects.set(key, result);
      return Promise.resolve(key);
    },
    getShardResult(key: string) {
      return Promise.resolve(objects.get(key));
    },
  };
}

/** A run store kept in memory. */
function memoryRunStore(): RunStore & { runs: RunResult[] } {
  const runs: RunResult[] = [];
  return {
    runs,
    putRun(run) {
      runs.push(run);
      return Promise.resolve('written');
    },
    latestRuns(targetId, limit) {
      return Promise.resolve(runs.filter((run) => run.targetId === targetId).slice(0, limit));
    },
    recentRuns(limit) {
      return Promise.resolve(runs.slice(0, limit));
    },
  };
}

/** The worker step's collaborators, with a shard runner that records its calls. */
function dependencies(overrides: Partial<WorkerStepDependencies> = {}) {
  const lines: string[] = [];
  const runs: Array<Parameters<ShardRunner>> = [];
  const shardResults = memoryShardResults();
  const deps: WorkerStepDependencies = {
    runShard: (...args) => {
      runs.push(args);
      return Promise.resolve({ shard: args[2].index, records: [], loopDelay: [], stagesRun: args[1].length });
    },
    readHostBudget: () => Promise.resolve(budget()),
    allowedHosts: ['127.0.0.1'],
    readSecret: () => Promise.resolve('secret-value'),
    signerFor: (sigv4) => (url) => Promise.resolve(`${url}?signed-for=${sigv4.region}`),
    shardResults,
    stopRequests: { requestStop: () => Promise.resolve(), stopRequestedSince: () => Promise.resolve(false) },
    deadline: new AbortController().signal,
    stopMarginMs: 15_000,
    now: Date.now,
    log: createLogger({}, (line) => lines.push(line)),
    ...overrides,
  };
  return { deps, lines, runs, shardResults };
}

/** A run of 100 connections in one shard against a port nothing listens on (nothing may be opened). */
function plannedHundred() {
  return plannedRun(testTarget('ws://127.0.0.1:9/', { plan: { stages: [100], holdSeconds: 0.5, connectRate: 200 } }));
}

describe('workerStep', () => {
  it('runs its shard through the shard runner it is given, with the secret headers resolved', async () => {
    const planned = plannedRun(
      testTarget('ws://127.0.0.1:9/', { headers: { Authorization: { secretName: 'chat/token', prefix: 'Bearer ' } } }),
    );
    const task = planned.shardTasks[0] as ShardTask;
    const { deps, runs } = dependencies();

    const output = await workerStep(task, deps);

    expect(runs).toHaveLength(1);
    const [settings, stages, shard] = runs[0]!;
    expect(settings.headers).toEqual({ Authorization: 'Bearer secret-value' });
    expect(stages).toEqual(task.stages);
    expect(shard).toEqual(task.shard);
    expect(output).toEqual({
      shard: 0,
      resultKey: shardResultKey({ targetId: 'chat', runId: task.runId }, 0),
      records: 0,
      opened: 0,
    });
  });

  it(
    'opens nothing when its shard does not fit the descriptor limit, and the run is recorded inconclusive with ' +
      'the reason and the fix',
    async () => {
      const planned = plannedHundred();
      const task = planned.shardTasks[0] as ShardTask;
      const { deps, lines, runs, shardResults } = dependencies({
        readHostBudget: () => Promise.resolve(budget({ descriptorLimit: 64, openDescriptors: 20 })),
      });

      const output = await workerStep(task, deps);

      expect(runs).toHaveLength(0);
      expect(output).toMatchObject({ shard: 0, records: 0, opened: 0, aborted: { failureClass: 'probe-limited' } });
      const selfCheck = checkProbeBudget(shardDemand(task), budget({ descriptorLimit: 64, openDescriptors: 20 }));
      expect(selfCheck.problems.map((problem) => problem.resource)).toEqual(['descriptors']);
      expect(output.aborted?.message).toBe(
        `worker 0 opened nothing, as its shard does not fit its Lambda: ${describeSelfCheckProblems(selfCheck)}`,
      );
      expect(output.aborted?.message).toContain('100 connections need 100 descriptors');
      expect(shardResults.objects.get(output.resultKey)?.aborted).toEqual(output.aborted);
      expect(lines.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual([
        'shard refused by its self-check',
        'shard finished',
      ]);

      const store = memoryRunStore();
      const recorded = await recordStep(
        { ...planned, shards: [output] },
        {
          shardResults,
          store,
          region: 'eu-west-1',
          now: () => planned.plan.endsAt,
          log: createLogger({}, () => undefined),
        },
      );
      expect(recorded.verdict).toBe('inconclusive');
      expect(recorded.ceiling.value).toBeNull();
      expect(recorded.verdictReason).toContain(describeSelfCheckProblems(selfCheck));
      expect(recorded.limitingFactor).toBe('probe-limited');
      expect(store.runs).toHaveLength(1);
    },
  );

  it('stops its shard as probe-limited when the Lambda runs short of descriptors while it runs', async () => {
    const planned = plannedHundred();
    const task = planned.shardTasks[0] as ShardTask;
    let readings = 0;
    // Room at the start; then someone else's descriptors leave 4 of 1,024.
    const readHostBudget = () => Promise.resolve(readings++ === 0 ? budget() : budget({ openDescriptors: 1020 }));
    const runShard: ShardRunner = (_settings, _stages, shard, control, host) =>
      underResourceWatch(host, control, async (watch) => {
        await watch?.sampleAtStageEnd(0);
        return {
          shard: shard.index,
          records: [],
          loopDelay: [],
          stagesRun: 1,
          ...(control.abortReason ? { aborted: control.abortReason } : {}),
        };
      });
    const { deps, shardResults } = dependencies({ readHostBudget, runShard });

    const output = await workerStep(task, deps);

    expect(output.aborted?.failureClass).toBe('probe-limited');
    expect(output.aborted?.message).toContain('1020 open against a descriptor limit (ulimit -n) of 1024');
    expect(output.aborted?.message).toContain('shardSize in the config');
    expect(shardResults.objects.get(output.resultKey)?.aborted).toEqual(output.aborted);
  });

  it('runs a shard whose connections fit, even when a figure of the budget cannot be read', async () => {
    const task = plannedHundred().shardTasks[0] as ShardTask;
    const { deps, runs } = dependencies({
      readHostBudget: () => Promise.resolve(budget({ descriptorLimit: null, openDescriptors: null })),
    });
    expect((await workerStep(task, deps)).aborted).toBeUndefined();
    expect(runs).toHaveLength(1);
  });
});

describe('shardDemand', () => {
  it('asks for every connection of the shard at once in its own process, toward one target address', () => {
    const task = plannedRun(
      testTarget('ws://127.0.0.1:9/', { plan: { stages: [30, 60], holdSeconds: 1, connectRate: 90, shardSize: 10 } }),
    ).shardTasks[0] as ShardTask;
    expect(shardDemand(task)).toEqual({
      connectionsPerProcess: 10,
      costPerConnection: 1,
      connectionsPerTargetAddress: 10,
      shardsShareProcess: false,
    });
  });
});
