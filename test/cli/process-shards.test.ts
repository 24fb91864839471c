/**
 * A plan run over two probe processes against the simulator, as `--processes
 * 2` runs it: one merged run with the ceiling, cause and drop onset of the
 * same plan in one process; a stop signal reaches every process and each
 * closes with 1000; a process that is killed, or that runs short, makes the
 * run inconclusive with the process named. Runs the compiled probe process
 * (npm run build).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { runPlanShards } from '../../bin/cli/local-shards.js';
import { startProbeProcesses, type ProbeProcesses } from '../../bin/cli/process-shards.js';
import { planRun } from '../../functions/engine/plan.js';
import { probeProcessMemoryMb } from '../../functions/engine/process-self-check.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { buildRunResult } from '../../functions/engine/record.js';
import type { ProbeSettings, RunResult, ShardEvent, ShardResult } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { rampSettings } from '../support/diagnose-ramp.js';

let simulator: RunningSimulator | undefined;
let fleet: ProbeProcesses | undefined;

afterEach(async () => {
  await fleet?.close();
  await simulator?.stop();
  fleet = undefined;
  simulator = undefined;
});

/** Two probe processes with 1024 descriptors each and the memory size for 100 connections, waiting. */
async function twoProcesses(descriptors = 1024): Promise<ProbeProcesses> {
  const memoryMb = probeProcessMemoryMb(100);
  fleet = await startProbeProcesses({ processes: 2, descriptors, memoryMb, timeoutSeconds: 60 });
  return fleet;
}

/** Plans `settings` now and runs it over `processes` (or in this process), with its events; the recorded run. */
async function probe(
  settings: ProbeSettings,
  processes: ProbeProcesses | undefined,
  onEvent: (event: ShardEvent) => void = () => undefined,
): Promise<{ run: RunResult; shards: ShardResult[] }> {
  const plan = planRun(settings, { now: Date.now, newRunId: randomUUID, startDelayMs: 250 });
  const control = new RampControl(settings.tolerance, settings.stages, settings.stopAtFirstFailingStage);
  const request = { settings, plan, control, onEvent };
  const shards = processes ? await processes.runPlan(request) : await runPlanShards(request);
  return { run: buildRunResult({ settings, plan, shards, region: 'local', finishedAt: Date.now() }), shards };
}

/** Resolves once the simulator has seen every connection end (at most 5 s), so its counts are final. */
async function allClosed(target: RunningSimulator): Promise<void> {
  for (let waited = 0; target.stats().open > 0 && waited < 5000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves once process `pid` has ended and been reaped (then its sandbox call has ended too). */
async function gone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves at the first connection that opens. */
function firstOpen(): { onEvent: (event: ShardEvent) => void; opened: Promise<void> } {
  let resolve: () => void = () => undefined;
  const opened = new Promise<void>((done) => (resolve = done));
  return {
    opened,
    onEvent: (event) => {
      if (event.type === 'settled' && event.record.outcome === 'opened') resolve();
    },
  };
}

describe('a plan over probe processes', () => {
  it('gives one merged run with the ceiling, cause and drop onset of one process', async () => {
    simulator = await startTargetSimulator({ cap: { limit: 150, response: { kind: 'status', status: 503 } } });
    // 30 failures a stage are tolerated: stage 4's 50 refusals fall 30 and 20 in the two processes, so only the run
    // as a whole sees the stage fail and stops before stage 5, as one process does.
    const settings = rampSettings(simulator.url, {
      stages: [50, 100, 150, 200, 250],
      holdSeconds: 0.3,
      connectRate: 500,
      shardSize: 50,
      tolerance: { kind: 'count', value: 30 },
    });
    const alone = await probe(settings, undefined);
    await allClosed(simulator);
    const closedAlone = simulator.stats().clientCloseCodes['1000'];

    const processes = await twoProcesses();
    const pids = processes.processes.map((info) => info.pid);
    const ended: string[] = [];
    const spread = await probe(settings, processes, (event) => {
      if (event.type === 'stage-ended') ended.push(`${event.stage}/${event.shard}`);
    });
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(process.pid);

    expect(alone.run.ceiling).toEqual({ value: 150, reached: true });
    expect(spread.run.ceiling).toEqual(alone.run.ceiling);
    expect(spread.run.limitingFactor?.kind).toBe('concurrency-cap');
    expect(spread.run.limitingFactor?.kind).toBe(alone.run.limitingFactor?.kind);
    expect(spread.run.dropOnset).toBe(alone.run.dropOnset);
    expect(spread.run.verdict).toBe('ok');
    expect(spread.run.stages.map((stage) => [stage.opened, stage.failed, stage.held])).toEqual(
      alone.run.stages.map((stage) => [stage.opened, stage.failed, stage.held]),
    );
    expect(spread.run.stages.map((stage) => stage.opened)).toEqual([50, 50, 50, 0]);
    // Five shards of 40 attempts (10 a stage, none in stage 5), each in one of the processes with every record;
    // every shard ended each of the four stages run in its process, reported here.
    expect(spread.shards.map((shard) => [shard.shard, shard.records.length, shard.stagesRun, shard.aborted])).toEqual([
      [0, 40, 4, undefined],
      [1, 40, 4, undefined],
      [2, 40, 4, undefined],
      [3, 40, 4, undefined],
      [4, 40, 4, undefined],
    ]);
    expect(ended).toHaveLength(5 * 4);
    // Both processes held connections and closed them with 1000, as one process does.
    const ends = await processes.close();
    expect(ends.map((end) => [end.pid, end.error])).toEqual(pids.map((pid) => [pid, undefined]));
    await allClosed(simulator);
    expect((simulator.stats().clientCloseCodes['1000'] ?? 0) - (closedAlone ?? 0)).toBe(150);
    expect(simulator.stats().abnormalClientCloses).toBe(0);
  });

  it('stops every process on a signal: each closes with 1000, and the run is inconclusive', async () => {
    simulator = await startTargetSimulator();
    const settings = rampSettings(simulator.url, {
      stages: [20, 40],
      holdSeconds: 10,
      connectRate: 200,
      shardSize: 10,
    });
    const processes = await twoProcesses();
    const first = firstOpen();
    const running = probe(settings, processes, first.onEvent);
    await first.opened;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(processes.signal('SIGTERM')).toBe(2);
    const { run, shards } = await running;
    const ends = await processes.close();
    expect(ends.map((end) => end.signal)).toEqual(['SIGTERM', 'SIGTERM']);
    expect(run.verdict).toBe('inconclusive');
    expect(run.verdictReason).toMatch(
      /^The run was stopped before it finished \(probe process [12] of 2 \(pid \d+\): stopped by SIGTERM\)/,
    );
    const opened = shards.flatMap((shard) => shard.records).filter((record) => record.outcome === 'opened').length;
    expect(opened).toBeGreaterThan(0);
    await allClosed(simulator);
    expect(simulator.stats().clientCloseCodes['1000']).toBe(opened);
    expect(simulator.stats().abnormalClientCloses).toBe(0);
  });

  it('makes the run inconclusive, naming the process, when a process is killed', async () => {
    simulator = await startTargetSimulator();
    const settings = rampSettings(simulator.url, {
      stages: [20, 40],
      holdSeconds: 10,
      connectRate: 200,
      shardSize: 10,
    });
    const processes = await twoProcesses();
    const killed = processes.processes[1]?.pid ?? -1;
    const first = firstOpen();
    const running = probe(settings, processes, first.onEvent);
    await first.opened;
    process.kill(killed, 'SIGKILL');
    const { run, shards } = await running;
    const reason =
      `probe process 2 of 2 (pid ${killed}) failed: Runtime.ExitError: Runtime exited with error: ` + 'signal: killed';
    expect(run.verdict).toBe('inconclusive');
    expect(run.ceiling.value).toBeNull();
    expect(run.verdictReason).toContain(reason);
    // Process 2's shards (1 and 3) are lost; process 1 stopped, closed with 1000 and kept its records.
    expect(shards.map((shard) => [shard.shard, shard.aborted?.message])).toEqual([
      [0, reason],
      [1, reason],
      [2, reason],
      [3, reason],
    ]);
    expect(shards[1]?.records).toEqual([]);
    const kept = [shards[0], shards[2]].flatMap((shard) => shard?.records ?? []);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.every((record) => record.outcome !== 'opened' || record.close?.code === 1000)).toBe(true);
  });

  it('sends nothing when a process died while it waited for the run', async () => {
    simulator = await startTargetSimulator();
    const settings = rampSettings(simulator.url, { stages: [20], holdSeconds: 0.3, shardSize: 10 });
    const processes = await twoProcesses();
    const killed = processes.processes[0]?.pid ?? -1;
    process.kill(killed, 'SIGKILL');
    await gone(killed);
    const { run } = await probe(settings, processes);
    expect(run.verdict).toBe('inconclusive');
    expect(run.verdictReason).toContain(`probe process 1 of 2 (pid ${killed}) failed: Runtime.ExitError`);
    expect(simulator.stats().accepted).toBe(0);
  });

  it('makes the run inconclusive, naming the process, when a process runs short of descriptors', async () => {
    simulator = await startTargetSimulator();
    const settings = rampSettings(simulator.url, { stages: [100], holdSeconds: 0.3, connectRate: 500, shardSize: 50 });
    const processes = await twoProcesses(64);
    const { run, shards } = await probe(settings, processes);
    expect(run.verdict).toBe('inconclusive');
    expect(run.limitingFactor?.kind).toBe('probe-limited');
    expect(run.limitingFactor?.summary).toMatch(
      /^probe process [12] of 2 \(pid \d+\): The probe would run out of file descriptors: 50 connections need 50/,
    );
    expect(shards.flatMap((shard) => shard.records)).toEqual([]);
    expect(simulator.stats().accepted).toBe(0);
  });
});
