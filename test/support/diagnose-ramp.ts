/**
 * Runs a ramp in this process as `run` does (plan, every shard, analysis)
 * but without the store and the resource watch (tests that want one pass it
 * to runPlanShards), so the diagnose experiments can be tested against a real
 * server on loopback in seconds.
 */
import { randomUUID } from 'node:crypto';
import { runPlanShards } from '../../bin/cli/local-shards.js';
import type { DiagnoseDependencies, RampOutcome } from '../../functions/diagnose/diagnose.js';
import { planRun } from '../../functions/engine/plan.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { buildRunResult } from '../../functions/engine/record.js';
import type { ProbeSettings } from '../../functions/engine/types.js';

/** Settings for a small, fast ramp against `url`. */
export function rampSettings(url: string, overrides: Partial<ProbeSettings> = {}): ProbeSettings {
  return {
    url,
    targetId: 'diagnose-test',
    stages: [10, 20],
    holdSeconds: 0.5,
    connectRate: 100,
    maxInFlight: 50,
    handshakeTimeoutSeconds: 2,
    heartbeat: { kind: 'off' },
    headers: {},
    subprotocols: [],
    tolerance: { kind: 'count', value: 0 },
    maxConnections: 2000,
    shardSize: 900,
    stopAtFirstFailingStage: true,
    regressionTolerance: 0.1,
    baselineRuns: 7,
    ...overrides,
  };
}

/** Runs the ramp and analyses it; the self-check is taken as passed. */
export async function rampAgainst(url: string, overrides: Partial<ProbeSettings> = {}): Promise<RampOutcome> {
  const settings = rampSettings(url, overrides);
  const plan = planRun(settings, { now: Date.now, newRunId: randomUUID, startDelayMs: 100 });
  const control = new RampControl(settings.tolerance, settings.stages, settings.stopAtFirstFailingStage);
  const shards = await runPlanShards({ settings, plan, control });
  const run = buildRunResult({ settings, plan, shards, region: 'local', finishedAt: Date.now() });
  return { settings, plan, shards, run, selfCheck: { ok: true, problems: [], unchecked: [] } };
}

/** The diagnosis's collaborators for a test: the real in-process runner, progress lines collected. */
export function diagnoseDependencies(progress: string[] = []): DiagnoseDependencies {
  return {
    runPlan: runPlanShards,
    now: Date.now,
    signal: new AbortController().signal,
    onProgress: (line) => progress.push(line),
  };
}
