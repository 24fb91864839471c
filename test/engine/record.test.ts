import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudWatchMetricsSink } from '../../functions/adapters/cloudwatch-metrics-sink.js';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { planRun } from '../../functions/engine/plan.js';
import {
  buildRunResult,
  configHash,
  historyLimit,
  publicSettings,
  recordRun,
  type RecordInput,
} from '../../functions/engine/record.js';
import type { RunStore } from '../../functions/engine/run-store.js';
import type { ConnectionRecord, ProbePlan, ProbeSettings, RunResult } from '../../functions/engine/types.js';
import { createLogger } from '../../functions/handlers/log.js';
import { connectError, openMany, refused, shardOf, T0 } from '../support/records.js';

const TABLE = 'ws-ceiling-runs';
const DAY_MS = 86_400_000;
const SECRET = 's3cret-token';

const SETTINGS: ProbeSettings = {
  url: `wss://chat.example.com/socket?token=${SECRET}`,
  targetId: 'chat-prod',
  stages: [50, 100, 150, 200, 250],
  holdSeconds: 1,
  connectRate: 100,
  maxInFlight: 50,
  handshakeTimeoutSeconds: 5,
  heartbeat: { kind: 'ping', intervalSeconds: 20, pongTimeoutSeconds: 10 },
  headers: { Authorization: `Bearer ${SECRET}` },
  subprotocols: [],
  tolerance: { kind: 'count', value: 0 },
  maxConnections: 1000,
  shardSize: 900,
  stopAtFirstFailingStage: true,
  regressionTolerance: 0.1,
  baselineRuns: 7,
};

const started: EmbeddedDynamo[] = [];
const directories: string[] = [];
const cloudWatchClients: CloudWatchClient[] = [];

afterEach(async () => {
  for (const client of cloudWatchClients.splice(0)) client.destroy();
  await Promise.all(started.splice(0).map((store) => store.stop()));
  await Promise.all(directories.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh embedded DynamoDB store with its runs table. */
async function openStore(): Promise<{ embedded: EmbeddedDynamo; store: DynamoRunStore }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'ws-ceiling-record-'));
  directories.push(directory);
  const embedded = await startEmbeddedDynamo({ directory });
  started.push(embedded);
  const store = new DynamoRunStore({ client: embedded.client, tableName: TABLE });
  await store.ensureTable();
  return { embedded, store };
}

/** A CloudWatch client mocked with aws-sdk-client-mock and a sink over it that does not wait between tries. */
function cloudWatch() {
  const client = new CloudWatchClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  cloudWatchClients.push(client);
  const mock = mockClient(client);
  const sink = new CloudWatchMetricsSink({ client, sleep: async () => {} });
  return {
    mock,
    sink,
    data: (): MetricDatum[] =>
      mock.commandCalls(PutMetricDataCommand).flatMap((call) => call.args[0].input.MetricData ?? []),
  };
}

/** The real plan of run `runId`, starting `daysAgo` days before T0 (T0 itself for 0). */
function planAt(runId: string, daysAgo: number, settings: ProbeSettings = SETTINGS): ProbePlan {
  const startAt = T0 - daysAgo * DAY_MS;
  return planRun(settings, { now: () => startAt - 250, newRunId: () => runId, startDelayMs: 250 });
}

/**
 * Records of a target that accepts `cap` concurrent connections: each stage
 * opens its new connections 5 ms apart early in its ramp, and the first stage
 * over the cap has the rest refused with 503 (then the ramp stops).
 */
function capRecords(plan: ProbePlan, cap: number): { records: ConnectionRecord[]; stagesRun: number } {
  const records: ConnectionRecord[] = [];
  for (const stage of plan.stages) {
    const from = stage.startAt - T0 + 1;
    const opening = Math.max(0, Math.min(stage.newConnections, cap - (stage.target - stage.newConnections)));
    records.push(...openMany(stage.index, opening, from, 5));
    const refusing = stage.newConnections - opening;
    records.push(...Array.from({ length: refusing }, (_, i) => refused(stage.index, from + (opening + i) * 5, 503)));
    if (refusing > 0) return { records, stagesRun: stage.index + 1 };
  }
  return { records, stagesRun: plan.stages.length };
}

/** The record input of run `runId`, `daysAgo` days before T0, against a target capped at `cap`. */
function cappedInput(runId: string, daysAgo: number, cap: number, settings: ProbeSettings = SETTINGS): RecordInput {
  const plan = planAt(runId, daysAgo, settings);
  const { records, stagesRun } = capRecords(plan, cap);
  return { settings, plan, shards: [shardOf(records, stagesRun)], region: 'eu-west-1', finishedAt: plan.endsAt };
}

/** Records seven earlier runs that each held 200 connections (days 7 to 1 before T0). */
async function recordSevenRunsAt200(store: RunStore): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  for (let day = 7; day >= 1; day--)
    runs.push((await recordRun(cappedInput(`earlier-${day}`, day, 200), { store })).run);
  return runs;
}

async function countItems(embedded: EmbeddedDynamo): Promise<number | undefined> {
  return (await embedded.client.send(new ScanCommand({ TableName: TABLE, Select: 'COUNT' }))).Count;
}

describe('recordRun', () => {
  it(
    'judges a run against the median of the seven earlier runs, stores it as regressed and publishes its ' + 'metrics',
    async () => {
      const { store } = await openStore();
      const earlier = await recordSevenRunsAt200(store);
      expect(earlier.map((run) => [run.verdict, run.ceiling.value])).toEqual(Array(7).fill(['ok', 200]));
      expect(earlier.map((run) => run.baseline?.runs ?? 0)).toEqual([0, 0, 0, 3, 4, 5, 6]);
      const cw = cloudWatch();
      cw.mock.on(PutMetricDataCommand).resolves({});

      const recorded = await recordRun(cappedInput('run-now', 0, 150), { store, metrics: cw.sink });

      expect(recorded.stored).toBe('written');
      expect(recorded.metrics).toBe('published');
      expect(recorded.run.ceiling).toEqual({ value: 150, reached: true });
      expect(recorded.run.verdict).toBe('regressed');
      expect(recorded.run.baseline).toEqual({ value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 });
      expect(recorded.run.verdictReason).toMatch(
        /^Ceiling 150 is 25 % under the baseline of 200 \(median of 7 runs\); tolerance 10 %\. Concurrency cap at 150/,
      );
      expect((await store.latestRuns('chat-prod', 1))[0]).toStrictEqual(recorded.run);

      const dimensions = [
        { Name: 'Target', Value: 'chat-prod' },
        { Name: 'Region', Value: 'eu-west-1' },
      ];
      const timestamp = new Date(T0);
      expect(cw.data()).toEqual([
        { MetricName: 'ProbeSucceeded', Value: 1, Unit: 'Count', Timestamp: timestamp, Dimensions: dimensions },
        { MetricName: 'Ceiling', Value: 150, Unit: 'Count', Timestamp: timestamp, Dimensions: dimensions },
        { MetricName: 'CeilingToBaseline', Value: 0.75, Unit: 'None', Timestamp: timestamp, Dimensions: dimensions },
        { MetricName: 'DropOnset', Value: 150, Unit: 'Count', Timestamp: timestamp, Dimensions: dimensions },
        { MetricName: 'FailedConnections', Value: 50, Unit: 'Count', Timestamp: timestamp, Dimensions: dimensions },
        { MetricName: 'HandshakeP95', Value: 1, Unit: 'Milliseconds', Timestamp: timestamp, Dimensions: dimensions },
      ]);
    },
  );

  it('writes a repeated record of the same run id once, and still publishes the same datapoints', async () => {
    const { embedded, store } = await openStore();
    await recordSevenRunsAt200(store);
    const cw = cloudWatch();
    cw.mock.on(PutMetricDataCommand).resolves({});
    const input = cappedInput('run-now', 0, 150);

    const first = await recordRun(input, { store, metrics: cw.sink });
    const again = await recordRun(input, { store, metrics: cw.sink });

    expect([first.stored, again.stored]).toEqual(['written', 'duplicate']);
    expect(again.run).toStrictEqual(first.run);
    expect(again.metrics).toBe('published');
    expect(await countItems(embedded)).toBe(8);
    const [firstPut, secondPut] = cw.mock.commandCalls(PutMetricDataCommand);
    expect(secondPut?.args[0].input).toEqual(firstPut?.args[0].input);
  });

  it('returns and republishes the stored run on a repeat, not a new judgement of it', async () => {
    const { store } = await openStore();
    await recordSevenRunsAt200(store);
    const cw = cloudWatch();
    cw.mock.on(PutMetricDataCommand).resolves({});
    const first = await recordRun(cappedInput('run-now', 0, 150), { store, metrics: cw.sink });

    const looser = { ...SETTINGS, regressionTolerance: 0.3 };
    const again = await recordRun(cappedInput('run-now', 0, 150, looser), { store, metrics: cw.sink });

    expect(again.stored).toBe('duplicate');
    expect(again.run).toStrictEqual(first.run);
    expect(again.run.verdict).toBe('regressed');
    const [firstPut, secondPut] = cw.mock.commandCalls(PutMetricDataCommand);
    expect(secondPut?.args[0].input).toEqual(firstPut?.args[0].input);
  });

  it(
    'keeps the item when CloudWatch keeps failing: metrics failed, logged without secrets, nothing ' + 'thrown',
    async () => {
      const { embedded, store } = await openStore();
      const cw = cloudWatch();
      cw.mock.on(PutMetricDataCommand).rejects(new Error('connect ETIMEDOUT monitoring.eu-west-1.amazonaws.com'));
      const lines: string[] = [];
      const log = createLogger({}, (line) => lines.push(line));

      const recorded = await recordRun(cappedInput('run-now', 0, 150), { store, metrics: cw.sink, log });

      expect(recorded.stored).toBe('written');
      expect(recorded.metrics).toBe('failed');
      expect(await countItems(embedded)).toBe(1);
      expect((await store.latestRuns('chat-prod', 1))[0]?.runId).toBe('run-now');
      expect(cw.mock.commandCalls(PutMetricDataCommand)).toHaveLength(3);
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
        {
          level: 'error',
          message: 'metrics not published; the run is stored',
          time: expect.any(String) as string,
          runId: 'run-now',
          targetId: 'chat-prod',
          region: 'eu-west-1',
          error:
            'MetricsPublishError: cannot publish 5 datapoints to CloudWatch namespace WsCeiling after 3 attempts: ' +
            'Error: connect ETIMEDOUT monitoring.eu-west-1.amazonaws.com',
        },
      ]);
      expect(lines.join('\n')).not.toContain(SECRET);
    },
  );

  it('publishes ProbeSucceeded 0 and no Ceiling for an inconclusive run, and stores it', async () => {
    const { store } = await openStore();
    await recordSevenRunsAt200(store);
    const cw = cloudWatch();
    cw.mock.on(PutMetricDataCommand).resolves({});
    const plan = planAt('run-emfile', 0);
    const stage1 = (plan.stages[1]?.startAt ?? 0) - T0;
    const records = [
      ...openMany(0, 50, 1, 5),
      ...openMany(1, 30, stage1 + 1, 5),
      connectError(1, stage1 + 200, 'EMFILE'),
    ];
    const shards = [
      shardOf(records, 1, { aborted: { failureClass: 'probe-limited', message: 'probe-limited: EMFILE' } }),
    ];

    const recorded = await recordRun(
      { settings: SETTINGS, plan, shards, region: 'eu-west-1', finishedAt: plan.endsAt },
      { store, metrics: cw.sink },
    );

    expect(recorded.run.verdict).toBe('inconclusive');
    expect(recorded.run.baseline).toEqual({ value: 200, runs: 7, ratio: null, regressionTolerance: 0.1 });
    expect(recorded.stored).toBe('written');
    const published = Object.fromEntries(cw.data().map((datum) => [datum.MetricName ?? '', datum.Value] as const));
    expect(published.ProbeSucceeded).toBe(0);
    expect(published).not.toHaveProperty('Ceiling');
    expect(published).not.toHaveProperty('CeilingToBaseline');
    expect(published.FailedConnections).toBe(1);
  });

  it('leaves an inconclusive run out of the next baseline', async () => {
    const { store } = await openStore();
    for (let day = 3; day >= 2; day--) await recordRun(cappedInput(`earlier-${day}`, day, 200), { store });
    const plan = planAt('interrupted', 1);
    const stopped = shardOf(openMany(0, 50, plan.startAt - T0 + 1, 5), 0, {
      aborted: { failureClass: 'interrupted', message: 'stopped by SIGINT' },
    });
    expect(
      (
        await recordRun(
          { settings: SETTINGS, plan, shards: [stopped], region: 'eu-west-1', finishedAt: plan.endsAt },
          { store },
        )
      ).run.verdict,
    ).toBe('inconclusive');

    const recorded = await recordRun(cappedInput('run-now', 0, 150), { store });

    expect(recorded.run.baseline).toBeNull();
    expect(recorded.run.verdict).toBe('ok');
  });

  it('skips metrics without a sink', async () => {
    const { store } = await openStore();
    expect((await recordRun(cappedInput('run-now', 0, 150), { store })).metrics).toBe('skipped');
  });

  it('keeps the baseline when the regression tolerance, the baseline size or the floor change', async () => {
    const { store } = await openStore();
    await recordSevenRunsAt200(store);
    const changed: ProbeSettings = { ...SETTINGS, regressionTolerance: 0.3, baselineRuns: 5, minCeiling: 100 };

    const recorded = await recordRun(cappedInput('run-now', 0, 150, changed), { store });

    expect(recorded.run.baseline).toEqual({ value: 200, runs: 5, ratio: 0.75, regressionTolerance: 0.3 });
    expect(recorded.run.verdict).toBe('ok');
  });

  it('starts a new baseline when the plan changes', async () => {
    const { store } = await openStore();
    await recordSevenRunsAt200(store);

    const recorded = await recordRun(cappedInput('run-now', 0, 150, { ...SETTINGS, holdSeconds: 2 }), { store });

    expect(recorded.run.baseline).toBeNull();
    expect(recorded.run.verdict).toBe('ok');
  });

  it('throws and publishes nothing when the item cannot be written', async () => {
    const failing: RunStore = {
      latestRuns: () => Promise.resolve([]),
      recentRuns: () => Promise.resolve([]),
      putRun: () => Promise.reject(new Error('table unavailable')),
    };
    const cw = cloudWatch();
    cw.mock.on(PutMetricDataCommand).resolves({});

    await expect(recordRun(cappedInput('run-now', 0, 150), { store: failing, metrics: cw.sink })).rejects.toThrow(
      'table unavailable',
    );
    expect(cw.mock.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });
});

describe('historyLimit', () => {
  it('reads four runs per baseline run, and at least twenty', () => {
    expect(historyLimit(7)).toBe(28);
    expect(historyLimit(1)).toBe(20);
    expect(historyLimit(100)).toBe(400);
  });
});

describe('buildRunResult', () => {
  it('holds no secret from the URL or the headers', () => {
    const run = buildRunResult(cappedInput('run-now', 0, 150));
    expect(JSON.stringify(run)).not.toContain(SECRET);
    expect(run.url).toBe('wss://chat.example.com/socket?token=redacted');
    expect(run.baseline).toBeNull();
  });
});

describe('configHash', () => {
  const plan = planAt('run-now', 0);
  const hashOf = (settings: ProbeSettings) => configHash(publicSettings(settings, plan));

  it('ignores the URL, the floor, the safety cap, the regression tolerance and the baseline size', () => {
    expect(
      buildRunResult({ ...cappedInput('run-now', 0, 150), settings: { ...SETTINGS, url: 'ws://127.0.0.1:1/' } })
        .configHash,
    ).toBe(
      buildRunResult({ ...cappedInput('run-now', 0, 150), settings: { ...SETTINGS, url: 'ws://127.0.0.1:2/' } })
        .configHash,
    );
    const base = hashOf(SETTINGS);
    expect(hashOf({ ...SETTINGS, minCeiling: 180 })).toBe(base);
    expect(hashOf({ ...SETTINGS, maxConnections: 5000 })).toBe(base);
    expect(hashOf({ ...SETTINGS, regressionTolerance: 0.5, baselineRuns: 30 })).toBe(base);
  });

  it('keeps the --simulate spec in the public settings but out of the hash, as it names the target like a URL', () => {
    const simulated = { ...SETTINGS, simulate: 'cap=120' };
    expect(publicSettings(simulated, plan).simulate).toBe('cap=120');
    expect(publicSettings(SETTINGS, plan)).not.toHaveProperty('simulate');
    expect(hashOf(simulated)).toBe(hashOf({ ...SETTINGS, simulate: 'cap=150' }));
    expect(hashOf(simulated)).toBe(hashOf(SETTINGS));
  });

  it('changes with what shapes the measurement', () => {
    const base = hashOf(SETTINGS);
    expect(hashOf({ ...SETTINGS, stages: [50, 100] })).not.toBe(base);
    expect(hashOf({ ...SETTINGS, holdSeconds: 60 })).not.toBe(base);
    expect(hashOf({ ...SETTINGS, tolerance: { kind: 'count', value: 2 } })).not.toBe(base);
    expect(hashOf({ ...SETTINGS, heartbeat: { kind: 'off' } })).not.toBe(base);
  });
});
