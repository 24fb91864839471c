import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { runPlanShards } from '../../bin/cli/local-shards.js';
import { startResourceWatch } from '../../functions/connection/resource-watch.js';
import { ProbeLedger } from '../../functions/diagnose/experiment-probe.js';
import { runIdleTimeout } from '../../functions/diagnose/idle-timeout.js';
import { planRun } from '../../functions/engine/plan.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { buildRunResult } from '../../functions/engine/record.js';
import { checkRunningBudget, type HostBudget } from '../../functions/engine/self-check.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampSettings } from '../support/diagnose-ramp.js';

const simulators: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});

const GIB = 1024 ** 3;
const roomy: HostBudget = {
  descriptorLimit: 1000,
  openDescriptors: 40,
  ephemeralPorts: { low: 32768, high: 60999 },
  freeMemoryBytes: 8 * GIB,
  heapAvailableBytes: 2 * GIB,
};
const demand = {
  connectionsPerProcess: 30,
  costPerConnection: 2,
  connectionsPerTargetAddress: 30,
  shardsShareProcess: true,
};
const judge = (now: HostBudget) => checkRunningBudget(demand, roomy, now);
const control = () => new RampControl({ kind: 'count', value: 0 }, [30], true);

describe('startResourceWatch', () => {
  it('stops the run as probe-limited at the first sample under headroom, with what ran short and the fix', async () => {
    const ramp = control();
    const readings = [roomy, roomy, { ...roomy, openDescriptors: 990 }];
    let reads = 0;
    const watch = startResourceWatch({
      read: () => Promise.resolve(readings[Math.min(reads++, readings.length - 1)] as HostBudget),
      judge,
      control: ramp,
      intervalMs: 10,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const problems = await watch.stop();
    expect(problems.map((problem) => problem.resource)).toEqual(['descriptors']);
    expect(ramp.abortReason?.failureClass).toBe('probe-limited');
    expect(ramp.abortReason?.message).toMatch(
      /^While the run went on, the probe ran short of file descriptors: 990 open against a descriptor limit \(ulimit -n\) of 1000, fewer than the 25 it keeps in reserve\. So this run cannot say where the target's limit is\. Fix: raise the descriptor limit/,
    );
  });

  it('takes one sample per stage end however many shards ask, and none once stopped', async () => {
    let reads = 0;
    const watch = startResourceWatch({
      read: () => {
        reads += 1;
        return Promise.resolve(roomy);
      },
      judge,
      control: control(),
      intervalMs: 60_000,
    });
    await Promise.all([watch.sampleAtStageEnd(0), watch.sampleAtStageEnd(0), watch.sampleAtStageEnd(0)]);
    expect(reads).toBe(2); // the sample at start, then the one for stage 0
    await watch.stop();
    await watch.sampleAtStageEnd(1);
    expect(reads).toBe(2);
  });
});

describe('runPlanShards with a resource watch', () => {
  it('makes a run whose host runs out after stage 1 inconclusive with the reason, never a ceiling', async () => {
    const target = await startTargetSimulator({});
    simulators.push(target);
    const settings = rampSettings(target.url, { stages: [10, 20, 30], holdSeconds: 0.3 });
    const plan = planRun(settings, { now: Date.now, newRunId: randomUUID, startDelayMs: 100 });
    const ramp = new RampControl(settings.tolerance, settings.stages, true);
    let stageEnded = false;
    const read = (): Promise<HostBudget> =>
      Promise.resolve(
        stageEnded ? { ...roomy, openDescriptors: null, descriptorLimit: null, descriptorsExhausted: true } : roomy,
      );
    const shards = await runPlanShards(
      { settings, plan, control: ramp, onEvent: (event) => (stageEnded ||= event.type === 'stage-ended') },
      { read, judge },
    );
    const run = buildRunResult({ settings, plan, shards, region: 'local', finishedAt: Date.now() });
    expect(run.verdict).toBe('inconclusive');
    expect(run.ceiling.value).toBeNull();
    expect(run.limitingFactor?.kind).toBe('probe-limited');
    expect(run.verdictReason).toMatch(
      /^While the run went on, the probe ran out of file descriptors: it had none left to read \/proc\/self\/fd with \(EMFILE\)\. So this run cannot say where the target's limit is\. Fix: raise the descriptor limit to at least \d+ \(ulimit -n \d+\)/,
    );
    expect(target.stats().peakOpen).toBeLessThan(30);
  });
});

describe('the resource watch in diagnose', () => {
  it('makes an experiment probe-limited, never an idle timeout, when the host runs short while it runs', async () => {
    const target = await startTargetSimulator({ idleTimeoutSeconds: 1 });
    simulators.push(target);
    let reads = 0;
    const read = (): Promise<HostBudget> =>
      Promise.resolve((reads += 1) > 1 ? { ...roomy, freeMemoryBytes: 64 * 1024 ** 2 } : roomy);
    const context = {
      ...diagnoseDependencies(),
      runPlan: (request: Parameters<typeof runPlanShards>[0]) => runPlanShards(request, { read, judge }),
      settings: rampSettings(target.url, { stages: [15], connectRate: 200 }),
      budgetSeconds: 60,
      ledger: new ProbeLedger(),
    };
    const findings = await runIdleTimeout(context, 1);
    expect(findings.map((finding) => finding.kind)).toEqual(['probe-limited']);
    expect(findings[0]?.sentence).toMatch(
      /^In the idle-timeout experiment: While the run went on, the probe's host ran short of memory: 64 MiB free, under the 128 MiB it keeps in reserve\. So this run cannot say where the target's limit is\. Fix: free memory on this host/,
    );
  });
});
