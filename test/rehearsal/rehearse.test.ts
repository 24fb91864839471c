/**
 * Rehearsals of the deployed state machine against the simulator: the stack
 * of a named deployment's later region (us-east-1, whose state machine waits
 * its stagger first) is synthesized once, with esbuild, as deployed; then
 * each test runs the definition from the template with one process per
 * Lambda call, and the template's own alarms are evaluated. Runs the
 * compiled sandbox child (npm run build first).
 */
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rehearseOptions, type RehearseFlags, type RehearseOptions } from '../../bin/cli/rehearse-options.js';
import { describeRehearsal, rehearsalJson } from '../../bin/cli/rehearse-report.js';
import {
  rehearse,
  type RehearsalControl,
  type RehearsalOutcome,
  type SynthesizedRegion,
} from '../../bin/cli/rehearsal.js';
import { synthesizeRegion } from '../../bin/rehearse-synth.js';
import { DynamoRunLocks } from '../../functions/adapters/dynamo-run-locks.js';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { regionOffsetSeconds } from '../../functions/config/region-starts.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import type { RunLockHolder } from '../../functions/steps/run-locks.js';
import { runCli } from '../support/cli.js';

/** Every worker's first connection attempt falls within this of the others' (they share one planned start). */
const START_SKEW_TOLERANCE_MS = 1000;

/** The region rehearsed: chat's second region, which waits its stagger offset before planning. */
const REGION = 'us-east-1';

let folder: string;
let configPath: string;
let secretsPath: string;
let synthesized: SynthesizedRegion;
const simulators: RunningSimulator[] = [];

const CONFIG = {
  name: 'staging',
  allowedHosts: ['127.0.0.1'],
  onCall: [{ kind: 'email', address: 'oncall@example.com' }],
  targets: [
    {
      id: 'chat',
      url: 'ws://127.0.0.1:9/socket',
      regions: ['eu-west-1', REGION],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
      headers: { Authorization: { secretName: 'chat/token', prefix: 'Bearer ' } },
      plan: { stages: [4, 8, 12, 16], holdSeconds: 0.5, connectRate: 20, shardSize: 4 },
      floor: 2,
    },
    {
      id: 'slow',
      url: 'ws://127.0.0.1:9/slow',
      regions: [REGION],
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

function optionsOf(flags: Partial<RehearseFlags> & { url: string }): RehearseOptions {
  return rehearseOptions(
    {
      config: configPath,
      targetId: 'chat',
      region: REGION,
      secrets: secretsPath,
      startDelay: '2',
      store: path.join(folder, 'store'),
      ...flags,
    },
    {},
  );
}

async function rehearsal(
  flags: Partial<RehearseFlags> & { url: string },
  control: Partial<RehearsalControl> & { progress?: (line: string) => void } = {},
): Promise<RehearsalOutcome> {
  return rehearse(optionsOf(flags), () => Promise.resolve(synthesized), control.progress ?? (() => undefined), {
    stop: control.stop ?? new AbortController().signal,
    kill: control.kill ?? new AbortController().signal,
  });
}

function alarmState(outcome: RehearsalOutcome, suffix: string): string | undefined {
  return outcome.alarms.find((alarm) => alarm.name.endsWith(suffix))?.state;
}

/** The target's run lock in a store, read after the rehearsal closed it. */
async function lockIn(store: string): Promise<RunLockHolder | undefined> {
  const embedded = await startEmbeddedDynamo({ directory: store });
  try {
    return await new DynamoRunLocks({ client: embedded.client, tableName: 'ws-ceiling-runs' }).holder('chat');
  } finally {
    await embedded.stop();
  }
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-rehearse-'));
  configPath = path.join(folder, 'config.json');
  secretsPath = path.join(folder, 'secrets.json');
  await writeFile(configPath, JSON.stringify(CONFIG));
  await writeFile(secretsPath, JSON.stringify({ 'chat/token': 'tok-sekrit-9' }));
  const region = await synthesizeRegion(optionsOf({ url: 'ws://127.0.0.1:9/socket', store: folder }));
  synthesized = { ...region, remove: () => undefined };
  return () => region.remove();
}, 60_000);

afterAll(async () => {
  await Promise.all(simulators.map((started) => started.stop()));
  await rm(folder, { recursive: true, force: true });
});

describe('rehearse', () => {
  it('runs the deployed definition, a process per worker: the ceiling, cause and onset of the local CLI', async () => {
    const target = await simulator(10);
    const store = path.join(folder, 'equal');
    const options = optionsOf({ url: `${target.url}/socket`, store });
    const outcome = await rehearsal({ url: `${target.url}/socket`, store });

    expect(outcome.stackName).toBe('ws-ceiling-staging-us-east-1');
    expect(outcome.execution.status).toBe('SUCCEEDED');
    expect(outcome.execution.states.map((state) => state.name)).toEqual([
      'Staggered',
      'StaggerWait',
      'Plan',
      'LockHeld',
      'Shards',
      'Record',
    ]);
    const offset = regionOffsetSeconds(options.target, REGION);
    expect(offset).toBeGreaterThan(60);
    expect(outcome.notes).toContain(
      `The Wait state StaggerWait was passed at once: in AWS the execution waits ${offset} s there ` +
        '($.startOffsetSeconds of its input). A rehearsal starts at once, as ws-ceiling invoke does.',
    );
    expect(outcome.run).toMatchObject({ region: REGION, verdict: 'ok', ceiling: { value: 8 } });
    // Four processes open at once: under load, the 9th and 10th connections' opens can reach their workers after
    // another worker's 11th was refused, so the onset lies between the stage held (8) and the cap, never above it.
    expect(outcome.run?.dropOnset).toBeGreaterThanOrEqual(8);
    expect(outcome.run?.dropOnset).toBeLessThanOrEqual(10);

    // --start-delay 2: the plan state ran 18 s behind, so the first stage starts 2 s after it planned.
    expect(outcome.notes).toContain(
      'The first stage starts 2 s after planning instead of the deployed 20 s (--start-delay): the Plan state ran ' +
        'with the clock 18 s behind.',
    );
    const plan = outcome.execution.states.find((state) => state.name === 'Plan');
    const plannedStart = (outcome.calls.find((call) => call.inMap)?.input as { stages: Array<{ startAt: number }> })
      .stages[0]?.startAt;
    expect((plannedStart ?? 0) - 2000).toBeGreaterThanOrEqual(plan?.enteredAt ?? Infinity);
    expect((plannedStart ?? 0) - 2000).toBeLessThanOrEqual(plan?.exitedAt ?? 0);

    const pids = outcome.workers.map((worker) => worker.pid);
    expect(outcome.workers.map((worker) => worker.shard)).toEqual([0, 1, 2, 3]);
    expect(new Set([...pids, process.pid]).size).toBe(5);
    expect(outcome.startSkewMs).toBeLessThanOrEqual(START_SKEW_TOLERANCE_MS);
    expect(outcome.workers.every((worker) => (worker.coldStartMs ?? 0) > 0 && worker.startedLateMs === null)).toBe(
      true,
    );
    expect(outcome.published).toContainEqual(
      expect.objectContaining({
        name: 'Ceiling',
        values: [{ value: 8, count: 1 }],
        dimensions: { Target: 'chat', Region: REGION },
      }),
    );
    const runId = outcome.run?.runId ?? '';
    // Workers write their shards in whatever order they finish; the report comes after them all.
    expect(outcome.objects.map((object) => object.key).sort()).toEqual([
      `reports/chat/${runId}.html`,
      ...[0, 1, 2, 3].map((shard) => `runs/chat/${runId}/shard-${shard}.json`),
    ]);
    expect(outcome.objects.at(-1)?.key).toBe(`reports/chat/${runId}.html`);
    expect(await readFile(outcome.objects.at(-1)?.file ?? '', 'utf8')).toContain('<html');
    expect(outcome.messages).toEqual([]);
    for (const kind of ['probe-failed', 'execution-failed', 'execution-aborted', 'worker-errors', 'worker-throttles'])
      expect([kind, alarmState(outcome, `-${kind}`)]).toEqual([kind, 'OK']);
    expect(outcome.otherAlarms).toContain(
      'ws-ceiling-staging-chat-schedule-dead-letters (AWS/SQS ApproximateNumberOfMessagesVisible)',
    );
    expect(
      outcome.otherAlarms.filter((name) => !name.startsWith('ws-ceiling-staging-chat-schedule-dead-letters')),
    ).toEqual(outcome.otherAlarms.filter((name) => name.startsWith('ws-ceiling-staging-slow-')));
    expect(outcome.lock).toEqual({});

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
    // The local CLI's onset too lies between the stage held and the cap (see above).
    expect(run.dropOnset).toBeGreaterThanOrEqual(8);
    expect(run.dropOnset).toBeLessThanOrEqual(10);
    expect(outcome.run?.limitingFactor?.kind).toBe(run.limitingFactor.kind);
    expect(run.limitingFactor.kind).toBe('concurrency-cap');

    // The deployment's runs table is ws-ceiling-staging-runs; the store's own table holds the rehearsed run.
    expect(outcome.notes).toContain(
      "The runs table ws-ceiling-staging-runs is the store's ws-ceiling-runs here (the functions' RUNS_TABLE says " +
        'so), where history and report --store read runs.',
    );
    const history = await runCli(['history', '--store', store, '--json']);
    expect(JSON.parse(history.stdout)).toEqual([expect.objectContaining({ runId, region: REGION })]);
  });

  it("a crashing worker is caught as deployed: inconclusive, the template's alarms fire, on-call is told", async () => {
    const target = await simulator(100);
    const flags = { url: `${target.url}/socket`, store: path.join(folder, 'crash'), fault: ['crash:1@0.2'] };
    const outcome = await rehearsal(flags);
    expect(outcome.execution.status).toBe('SUCCEEDED');
    expect(outcome.run?.verdict).toBe('inconclusive');
    expect(outcome.run?.verdictReason).toContain('worker 1 failed: Runtime.ExitError');
    expect(outcome.workers[1]?.error).toMatch(/^Runtime\.ExitError: .*exit status 1$/);
    expect(outcome.published).toContainEqual(
      expect.objectContaining({ name: 'ProbeSucceeded', values: [{ value: 0, count: 1 }] }),
    );
    expect(alarmState(outcome, '-probe-failed')).toBe('ALARM');
    expect(outcome.alarms.find((alarm) => alarm.name === 'ws-ceiling-staging-chat-worker-errors')).toMatchObject({
      state: 'ALARM',
      reason: expect.stringContaining('Errors Sum over the last 1 period of 5 min: 1') as unknown,
    });
    expect(alarmState(outcome, '-execution-failed')).toBe('OK');
    expect(alarmState(outcome, '-regressed')).toBe('INSUFFICIENT_DATA');

    const runId = outcome.run?.runId ?? '';
    expect(outcome.messages).toHaveLength(1);
    expect(outcome.messages[0]).toMatchObject({
      topicArn: expect.stringMatching(/^arn:aws:sns:us-east-1:000000000000:/) as unknown,
      subject: expect.stringMatching(/^ws-ceiling: chat probed from us-east-1: INCONCLUSIVE/) as unknown,
      structure: 'json',
    });
    const text = describeRehearsal(outcome, optionsOf(flags));
    expect(text).toContain('Messages to on-call (SNS Publish)');
    expect(text).toMatch(/ {2}subject {2}ws-ceiling: chat probed from us-east-1: INCONCLUSIVE/);
    expect(text).toMatch(
      new RegExp(`  link {5}https://us-east-1\\.console\\.aws\\.amazon\\.com/s3/object/\\S+reports%2Fchat%2F${runId}`),
    );
    expect(text).toContain(`  here     ${outcome.objects.find((o) => o.key.startsWith('reports/'))?.file ?? '?'}`);
    expect(text).toContain(`  |   ws-ceiling report ${runId} --region us-east-1 --deployment staging`);
    expect(text).not.toContain('tok-sekrit-9');
  });

  it("a late worker is marked by the run itself, in the run's words", async () => {
    const target = await simulator(100);
    const flags = { url: `${target.url}/socket`, store: path.join(folder, 'late'), fault: ['late:2@3.5'] };
    const outcome = await rehearsal(flags);
    expect(outcome.run?.verdict).toBe('inconclusive');
    expect(outcome.run?.verdictReason).toMatch(/^Worker 2 started \d+(\.\d+)? s after the planned start, so its share/);
    expect(outcome.workers.map((worker) => worker.startedLateMs !== null)).toEqual([false, false, true, false]);
    expect(outcome.workers[2]?.startedLateMs).toBeGreaterThan(1000);
    expect(describeRehearsal(outcome, optionsOf(flags))).toMatch(
      /\n {2}2 .* late: it started \d+(\.\d+)? s after the planned start\n/,
    );
  });

  it('a plan step that crashes fails the execution: no run, and the execution-failed alarm fires', async () => {
    const target = await simulator(100);
    const flags = { url: `${target.url}/socket`, store: path.join(folder, 'plan-crash'), fault: ['crash:Plan'] };
    const outcome = await rehearsal(flags);
    expect(outcome.execution).toMatchObject({ status: 'FAILED', error: 'Runtime.ExitError' });
    expect(outcome.run).toBeUndefined();
    expect(outcome.workers).toEqual([]);
    expect(alarmState(outcome, '-execution-failed')).toBe('ALARM');
    expect(alarmState(outcome, '-worker-errors')).toBe('OK');
    expect(describeRehearsal(outcome, optionsOf(flags))).toContain(
      'No run was recorded: the execution did not reach its record step.',
    );
    await expect(rehearsal({ ...flags, fault: ['crash:Worker'] })).rejects.toThrow(
      '--fault: "crash:Worker" names no Task state of ws-ceiling-staging-chat outside its map (those are Plan, ' +
        'Record, ReleaseLock); a worker is named by its shard number',
    );
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

  it('a rehearsal killed after planning: the execution is aborted, its alarm fires, its lock is released', async () => {
    const target = await simulator(100);
    const store = path.join(folder, 'killed');
    const kill = new AbortController();
    const watching = { logFile: '' };
    const planned = setInterval(() => {
      void readFile(watching.logFile, 'utf8')
        .then((log) => log.includes('"run planned"') && kill.abort())
        .catch(() => undefined);
    }, 50);
    const outcome = await rehearsal(
      { url: `${target.url}/socket`, store },
      {
        kill: kill.signal,
        progress: (line) => (watching.logFile = /\(log: (.+)\)…$/.exec(line)?.[1] ?? watching.logFile),
      },
    ).finally(() => clearInterval(planned));
    expect(outcome.execution.status).toBe('ABORTED');
    expect(outcome.run).toBeUndefined();
    expect(alarmState(outcome, '-execution-aborted')).toBe('ALARM');
    expect(outcome.lock.releasedAtExit?.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(describeRehearsal(outcome, optionsOf({ url: target.url, store }))).toContain(
      `Run lock: the execution ended without releasing the lock of its run ${outcome.lock.releasedAtExit?.runId}`,
    );
    expect(await lockIn(store)).toBeUndefined();
  });

  it('a lock left by a rehearsal killed hard makes one rehearsal skipped, which says so and frees it', async () => {
    const store = path.join(folder, 'left-lock');
    const embedded = await startEmbeddedDynamo({ directory: store });
    const left = { runId: 'killed-rehearsal', since: Date.now(), until: Date.now() + 600_000 };
    try {
      await new DynamoRunStore({ client: embedded.client, tableName: 'ws-ceiling-runs' }).ensureTable();
      await new DynamoRunLocks({ client: embedded.client, tableName: 'ws-ceiling-runs' }).acquire('chat', left);
    } finally {
      await embedded.stop();
    }
    const target = await simulator(100);
    const flags = { url: `${target.url}/socket`, store };
    const outcome = await rehearsal(flags);
    expect(outcome.run).toMatchObject({ verdict: 'skipped', ceiling: { value: null } });
    expect(outcome.run?.verdictReason).toContain('Skipped: run killed-rehearsal of chat held the run lock');
    expect(outcome.workers).toEqual([]);
    expect(outcome.lock).toEqual({ foundAtStart: left, releasedAtExit: left });
    expect(outcome.published.map((point) => point.name)).toEqual(['RunSkipped']);
    const text = describeRehearsal(outcome, optionsOf(flags));
    expect(text).toContain(`of chat: SKIPPED`);
    expect(text).toContain(
      `Run lock: run killed-rehearsal held the lock of chat in ${store} (since ${new Date(left.since).toISOString()}` +
        `, until ${new Date(left.until).toISOString()}) when this rehearsal started, so the plan step skipped this ` +
        'run, as deployed.',
    );
    expect(text).toContain('Run lock: released at exit, so the next rehearsal runs.');
    expect(await lockIn(store)).toBeUndefined();
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
    expect(outcome.messages.map((message) => message.subject)).toEqual([
      expect.stringMatching(/^ws-ceiling: chat probed from us-east-1: REGRESSED/),
    ]);
  });
});
