import { afterEach, describe, expect, it } from 'vitest';
import { diagnoseRun, type RampOutcome } from '../../functions/diagnose/diagnose.js';
import type { PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { buildRunResult } from '../../functions/engine/record.js';
import type { ConnectionRecord, ProbeSettings } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { diagnoseDependencies, rampAgainst, rampSettings } from '../support/diagnose-ramp.js';
import { connectError, openMany, planOf, refused, shardOf, stagesOf } from '../support/records.js';

const simulators: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
});

const OPTIONS = { resolution: 1, budgetSeconds: 60 };

/** A runner for diagnoses that must not probe again. */
const mustNotProbe: PlanRunner = () => {
  throw new Error('no experiment should run');
};

/** A recorded ramp built from synthetic records over stages of `targets`. */
function syntheticRamp(targets: number[], records: ConnectionRecord[], stagesRun: number): RampOutcome {
  const settings: ProbeSettings = rampSettings('ws://127.0.0.1:9/', { stages: targets });
  const plan = planOf(stagesOf(targets, 200, 1000));
  const shards = [shardOf(records, stagesRun)];
  const run = buildRunResult({ settings, plan, shards, region: 'local', finishedAt: plan.endsAt });
  return { settings, plan, shards, run, selfCheck: { ok: true, problems: [], unchecked: [] } };
}

describe('diagnoseRun', () => {
  it('runs the heartbeat groups after a ramp that found an idle timeout, and explains it', async () => {
    const target = await startTargetSimulator({ idleTimeoutSeconds: 1 });
    simulators.push(target);
    const progress: string[] = [];
    const ramp = await rampAgainst(target.url, { stages: [15], connectRate: 200, holdSeconds: 1.6 });
    expect(ramp.run.verdict).toBe('inconclusive');
    const diagnosis = await diagnoseRun(ramp, diagnoseDependencies(progress), OPTIONS);
    expect(diagnosis.verdict).toBe('explained');
    expect(diagnosis.findings).toEqual([
      expect.objectContaining({
        kind: 'idle-timeout',
        experiment: 'idle-timeout',
        values: expect.objectContaining({ seconds: expect.closeTo(1, 0) as number }) as unknown,
      }),
    ]);
    expect(diagnosis.seconds.experiments).toBeGreaterThan(2.5);
    expect(progress).toEqual([
      'idle timeout: holding 3 groups of 5 for 2.5 s (no heartbeat, protocol ping, application message)',
    ]);
  });

  it('says no limit was found when every stage held, without probing again', async () => {
    const diagnosis = await diagnoseRun(
      syntheticRamp([10, 20], [...openMany(0, 10, 0, 10), ...openMany(1, 10, 1300, 10)], 2),
      { ...diagnoseDependencies(), runPlan: mustNotProbe },
      OPTIONS,
    );
    expect(diagnosis.verdict).toBe('no-limit-found');
    expect(diagnosis.findings.map((finding) => finding.sentence)).toEqual([
      'No limit found (every stage held up to 20 connections); raise --max or --stages to look further.',
    ]);
  });

  it('never experiments on a run the probe itself limited, and is inconclusive', async () => {
    const records = [...openMany(0, 10, 0, 10), connectError(0, 120, 'EMFILE')];
    const diagnosis = await diagnoseRun(
      syntheticRamp([20], records, 0),
      { ...diagnoseDependencies(), runPlan: mustNotProbe },
      OPTIONS,
    );
    expect(diagnosis.verdict).toBe('inconclusive');
    expect(diagnosis.findings.map((finding) => finding.kind)).toEqual(['probe-limited']);
    expect(diagnosis.reason).toContain('The probe itself was the limit, so no ceiling is claimed.');
  });

  it('keeps a failed run failed (a 401 is a config error, not a limit) without probing again', async () => {
    const diagnosis = await diagnoseRun(
      syntheticRamp([10], [refused(0, 5, 401)], 0),
      { ...diagnoseDependencies(), runPlan: mustNotProbe },
      OPTIONS,
    );
    expect(diagnosis.verdict).toBe('failed');
    expect(diagnosis.findings.map((finding) => finding.kind)).toEqual(['probe-failure']);
  });
});
