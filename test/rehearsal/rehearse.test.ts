/**
 * Rehearsals of the deployed state machine against the simulator: the
 * region's stack is synthesized once (with esbuild, as deployed), then each
 * test runs the definition from the template with one process per Lambda
 * call. The template gets one extra alarm, on the worker's Lambda errors, as
 * a later stack may add it, to show every alarm of the template is evaluated.
 * Runs the compiled sandbox child (npm run build first).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rehearseOptions, type RehearseFlags } from '../../bin/cli/rehearse-options.js';
import { rehearsalJson } from '../../bin/cli/rehearse-report.js';
import {
  rehearse,
  type RehearsalControl,
  type RehearsalOutcome,
  type SynthesizedRegion,
} from '../../bin/cli/rehearsal.js';
import { synthesizeRegion } from '../../bin/rehearse-synth.js';
import type { CloudTemplate } from '../../functions/rehearsal/cloud-template.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { runCli } from '../support/cli.js';

/** Every worker's first connection attempt falls within this of the others' (they share one planned start). */
const START_SKEW_TOLERANCE_MS = 1000;

let folder: string;
let configPath: string;
let secretsPath: string;
let synthesized: SynthesizedRegion;
const simulators: RunningSimulator[] = [];

const CONFIG = {
  allowedHosts: ['127.0.0.1'],
  onCall: [{ kind: 'email', address: 'oncall@example.com' }],
  targets: [
    {
      id: 'chat',
      url: 'ws://127.0.0.1:9/socket',
      regions: ['eu-west-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
      headers: { Authorization: { secretName: 'chat/token', prefix: 'Bearer ' } },
      plan: { stages: [4, 8, 12, 16], holdSeconds: 0.5, connectRate: 20, shardSize: 4 },
      floor: 2,
    },
    {
      id: 'slow',
      url: 'ws://127.0.0.1:9/slow',
      regions: ['eu-west-1'],
      schedule: { cron: '0 3 * * ? *', timeZone: 'UTC' },
      plan: { stages: [4, 8], holdSeconds: 6, connectRate: 100, shardSize: 4 },
    },
  ],
};

async function simulator(cap: number): Promise<RunningSimulator> {
  const started = await startTargetSimulator({ cap: { limit: cap, response: { kind: 'status', status: 503 } } });
  simulators.push(started);
  return started;
}

async function rehearsal(
  flags: Partial<RehearseFlags> & { url: string },
  control: Partial<RehearsalControl> = {},
): Promise<RehearsalOutcome> {
  const options = rehearseOptions(
    {
      config: configPath,
      targetId: 'chat',
      secrets: secretsPath,
      startDelay: '2',
      store: path.join(folder, 'store'),
      ...flags,
    },
    {},
  );
  return rehearse(
    options,
    () => Promise.resolve(synthesized),
    () => undefined,
    {
      stop: control.stop ?? new AbortController().signal,
      kill: control.kill ?? new AbortController().signal,
    },
  );
}

function alarmState(outcome: RehearsalOutcome, suffix: string): string | undefined {
  return outcome.alarms.find((alarm) => alarm.name.endsWith(suffix))?.state;
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-rehearse-'));
  configPath = path.join(folder, 'config.json');
  secretsPath = path.join(folder, 'secrets.json');
  await writeFile(configPath, JSON.stringify(CONFIG));
  await writeFile(secretsPath, JSON.stringify({ 'chat/token': 'tok-sekrit-9' }));
  const options = rehearseOptions({ config: configPath, targetId: 'chat', secrets: secretsPath, store: folder }, {});
  const region = await synthesizeRegion(options);
  const template = region.template as CloudTemplate;
  const worker = Object.keys(template.Resources).find((id) => id.startsWith('TargetchatWorkerFunction'));
  template.Resources.ChatWorkerErrors = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: 'ws-ceiling-chat-worker-errors',
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: worker } }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
  };
  synthesized = { ...region, remove: () => undefined };
}, 60_000);

afterAll(async () => {
  synthesized.remove();
  await Promise.all(simulators.map((started) => started.stop()));
  await rm(folder, { recursive: true, force: true });
});

describe('rehearse', () => {
  it('runs the deployed definition, a process per worker: the ceiling, cause and onset of the local CLI', async () => {
    const target = await simulator(10);
    const store = path.join(folder, 'equal');
    const outcome = await rehearsal({ url: `${target.url}/socket`, store });

    expect(outcome.execution.status).toBe('SUCCEEDED');
    expect(outcome.execution.states.map((state) => state.name)).toEqual(['Plan', 'Shards', 'Record']);
    expect(outcome.run).toMatchObject({ region: 'eu-west-1', verdict: 'ok', ceiling: { value: 8 }, dropOnset: 10 });
    const pids = outcome.workers.map((worker) => worker.pid);
    expect(outcome.workers.map((worker) => worker.shard)).toEqual([0, 1, 2, 3]);
    expect(new Set([...pids, process.pid]).size).toBe(5);
    expect(outcome.startSkewMs).toBeLessThanOrEqual(START_SKEW_TOLERANCE_MS);
    expect(outcome.workers.every((worker) => (worker.coldStartMs ?? 0) > 0 && !worker.late)).toBe(true);
    expect(outcome.published).toContainEqual(
      expect.objectContaining({
        name: 'Ceiling',
        values: [{ value: 8, count: 1 }],
        dimensions: { Target: 'chat', Region: 'eu-west-1' },
      }),
    );
    expect(alarmState(outcome, '-probe-failed')).toBe('OK');
    expect(alarmState(outcome, '-worker-errors')).toBe('OK');
    expect(outcome.otherAlarms.every((name) => name.startsWith('ws-ceiling-slow-'))).toBe(true);

    const json = rehearsalJson(outcome);
    expect(Object.keys(json)).toEqual(['run', 'workers', 'metrics', 'alarms', 'execution']);
    expect(Object.keys(json.workers[0] ?? {})).toEqual(['shard', 'pid', 'startedAt', 'firstStageAt', 'connections']);
    expect(Object.keys(json.metrics[0] ?? {})).toEqual(['name', 'value', 'unit', 'dimensions']);
    const opened = outcome.run?.stages.reduce((total, stage) => total + stage.opened, 0);
    expect(json.workers.reduce((total, worker) => total + (worker.connections ?? 0), 0)).toBe(opened);

    const local = await runCli(
      ['run', `${target.url}/socket`, '--stages', '4,8,12,16', '--hold', '0.5', '--rate', '20', '--json'].concat([
        '--store',
        path.join(folder, 'local'),
      ]),
    );
    const run = JSON.parse(local.stdout) as { ceiling: unknown; dropOnset: unknown; limitingFactor: { kind: string } };
    expect(outcome.run?.ceiling).toEqual(run.ceiling);
    expect(outcome.run?.dropOnset).toBe(run.dropOnset);
    expect(outcome.run?.limitingFactor?.kind).toBe(run.limitingFactor.kind);
    expect(run.limitingFactor.kind).toBe('concurrency-cap');

    const history = await runCli(['history', '--store', store, '--json']);
    expect(JSON.parse(history.stdout)).toEqual([
      expect.objectContaining({ runId: outcome.run?.runId, region: 'eu-west-1' }),
    ]);
  });

  it('a crashing worker is caught as deployed: inconclusive, and its alarms fire; a late one is marked', async () => {
    const target = await simulator(100);
    const outcome = await rehearsal({
      url: `${target.url}/socket`,
      store: path.join(folder, 'faults'),
      fault: ['crash:1@0.2', 'late:2@3.5'],
    });
    expect(outcome.execution.status).toBe('SUCCEEDED');
    expect(outcome.run?.verdict).toBe('inconclusive');
    expect(outcome.run?.verdictReason).toContain('worker 1 failed: Runtime.ExitError');
    expect(outcome.workers[1]?.error).toMatch(/^Runtime\.ExitError: .*exit status 1$/);
    expect(outcome.workers[2]).toMatchObject({ late: true });
    expect(outcome.workers[2]?.offsetMs).toBeGreaterThan(1000);
    expect(outcome.workers.filter((worker) => worker.late).map((worker) => worker.shard)).toEqual([2]);
    expect(outcome.published).toContainEqual(
      expect.objectContaining({ name: 'ProbeSucceeded', values: [{ value: 0, count: 1 }] }),
    );
    expect(alarmState(outcome, '-probe-failed')).toBe('ALARM');
    expect(alarmState(outcome, '-worker-errors')).toBe('ALARM');
    expect(alarmState(outcome, '-regressed')).toBe('INSUFFICIENT_DATA');
  });

  it('a stop request during the run makes it inconclusive, never a ceiling', async () => {
    const target = await simulator(100);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 3500);
    const outcome = await rehearsal(
      { url: `${target.url}/slow`, targetId: 'slow', store: path.join(folder, 'stopped') },
      { stop: stop.signal },
    );
    expect(outcome.stopRequested).toBe(true);
    expect(outcome.run).toMatchObject({ verdict: 'inconclusive', ceiling: { value: null } });
    expect(outcome.run?.verdictReason).toContain('stop request');
    expect(alarmState(outcome, '-probe-failed')).toBe('ALARM');
  });

  it('three rehearsals at a higher ceiling, then one lower: the fourth is regressed, its alarm fires', async () => {
    const store = path.join(folder, 'regression');
    const higher = await simulator(8);
    for (let run = 0; run < 3; run += 1) {
      const outcome = await rehearsal({ url: `${higher.url}/socket`, store });
      expect(outcome.run).toMatchObject({ verdict: 'ok', ceiling: { value: 8 } });
      expect(alarmState(outcome, '-regressed')).not.toBe('ALARM');
    }
    const lower = await simulator(4);
    const outcome = await rehearsal({ url: `${lower.url}/socket`, store });
    expect(outcome.run).toMatchObject({ verdict: 'regressed', ceiling: { value: 4 }, baseline: { value: 8 } });
    expect(outcome.historyRuns).toBe(3);
    expect(outcome.alarms.find((alarm) => alarm.name.endsWith('-regressed'))).toMatchObject({
      state: 'ALARM',
      reason: expect.stringContaining('CeilingToBaseline Minimum over the last 1 period of 1 h: 0.5') as unknown,
    });
  });
});
