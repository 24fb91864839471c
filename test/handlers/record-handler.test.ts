import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudWatchClient, PutMetricDataCommand, type PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoRunLocks } from '../../functions/adapters/dynamo-run-locks.js';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { describeFailure } from '../../functions/steps/record-step.js';
import type {
  PlanStepOutput,
  RecordStepInput,
  RecordStepOutput,
  WorkerOutput,
} from '../../functions/steps/step-payloads.js';
import { handler as recordHandler } from '../../functions/handlers/record-handler.js';
import { handler as workerHandler } from '../../functions/handlers/worker-handler.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import {
  captureStdout,
  fakeS3,
  lambdaContext,
  plannedRun,
  setEnvironment,
  TEST_AWS_ENVIRONMENT,
  testTarget,
} from '../support/deployed-run.js';

const BUCKET = 'shard-results';
const TABLE = 'ws-ceiling-runs';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ws-ceiling-on-call';

let dynamo: EmbeddedDynamo;
let runs: DynamoRunStore;
let storeDirectory: string;
let simulator: RunningSimulator;
let s3: ReturnType<typeof fakeS3>;
let restoreEnvironment: () => void;
const secretsManager = mockClient(SecretsManagerClient);
const cloudWatch = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
let locks: DynamoRunLocks;

/**
 * A run of two workers against a cap of 6 (stages 4 → 8, two connections per worker per stage), recorded by the
 * tests below. Each worker's first stage-2 upgrade goes at the same instant: a cap of 6 lets both in and refuses
 * the next two, 10 ms later. (A cap of 5 would make the two first upgrades race for one place, and which one a
 * process records first is the scheduler's luck, not the server's behaviour.)
 */
let planned: PlanStepOutput;
let workerOutputs: WorkerOutput[];

beforeAll(async () => {
  storeDirectory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-record-'));
  dynamo = await startEmbeddedDynamo({ directory: storeDirectory });
  runs = new DynamoRunStore({ client: dynamo.client, tableName: TABLE });
  await runs.ensureTable();
  locks = new DynamoRunLocks({ client: dynamo.client, tableName: TABLE });
  restoreEnvironment = setEnvironment({
    ...TEST_AWS_ENVIRONMENT,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    ALLOWED_HOSTS: '127.0.0.1',
    SHARD_RESULTS_BUCKET: BUCKET,
    RUNS_TABLE: TABLE,
    ALERT_TOPIC_ARN: TOPIC,
  });
  s3 = fakeS3();
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'tok-sekrit-1' });
  simulator = await startTargetSimulator({ cap: { limit: 6, response: { kind: 'status', status: 503 } } });
  const target = testTarget(simulator.url, {
    headers: { Authorization: { secretName: 'chat/probe-token', prefix: 'Bearer ' }, 'X-Tenant': 'acme-sekrit-2' },
    plan: { stages: [4, 8], holdSeconds: 0.5, connectRate: 200, shardSize: 4 },
  });
  planned = plannedRun(target);
  const log = captureStdout();
  try {
    // Two invocations at once in one process; in Lambda each worker has its own.
    workerOutputs = await Promise.all(planned.shardTasks.map((task) => workerHandler(task, lambdaContext())));
  } finally {
    log.restore();
  }
});

afterAll(async () => {
  await simulator.stop();
  s3.restore();
  secretsManager.restore();
  cloudWatch.restore();
  sns.restore();
  restoreEnvironment();
  await dynamo.stop();
  await rm(storeDirectory, { recursive: true, force: true });
});

let log: ReturnType<typeof captureStdout>;
beforeEach(() => {
  cloudWatch.reset();
  cloudWatch.on(PutMetricDataCommand).resolves({});
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
  log = captureStdout();
});

/** The record handler on a run to record, its output checked to be a RecordStepOutput. */
async function record(input: RecordStepInput): Promise<RecordStepOutput> {
  const output = await recordHandler(input, lambdaContext());
  if (!('verdict' in output)) throw new Error('expected a recorded run');
  return output;
}

/** Every message published to the on-call topic. */
function published(): PublishCommandInput[] {
  return sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
}
afterEach(() => log.restore());

/** The record step's input for the planned run under another run id, with these map results. */
function recordInput(runId: string, shards: RecordStepInput['shards']): RecordStepInput {
  return { ...planned, runId, plan: { ...planned.plan, runId }, shards };
}

/** The metric data of every PutMetricData call, by call. */
function publishedMetrics(): PutMetricDataCommandInput[] {
  return cloudWatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);
}

/** Metric name → value of one PutMetricData call. */
function valuesOf(input: PutMetricDataCommandInput | undefined): Record<string, number | undefined> {
  return Object.fromEntries((input?.MetricData ?? []).map((datum) => [String(datum.MetricName), datum.Value] as const));
}

describe('handler (record)', () => {
  it('records a two-worker run once: a repeated invocation with the same run id is a duplicate', async () => {
    expect(workerOutputs.map((output) => output.shard)).toEqual([0, 1]);
    const input = recordInput(planned.runId, workerOutputs);

    const first = await record(input);
    const again = await record(input);

    expect(first).toEqual({
      runId: planned.runId,
      targetId: 'chat',
      verdict: 'ok',
      verdictReason: expect.stringContaining('Concurrency cap at 6') as string,
      ceiling: { value: 4, reached: true },
      dropOnset: 6,
      limitingFactor: 'concurrency-cap',
      stored: 'written',
    });
    expect(again).toEqual({ ...first, stored: 'duplicate' });
    const stored = (await runs.latestRuns('chat', 10)).filter((run) => run.runId === planned.runId);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.failures.byStatus).toEqual({ '503': 2 });
    expect(stored[0]?.settings.headerNames).toEqual(['Authorization', 'X-Tenant']);
    expect(stored[0]?.region).toBe('eu-west-1');
    expect(JSON.stringify(stored)).not.toContain('sekrit');
    expect(log.lines.join('\n')).not.toContain('sekrit');
    expect(
      log
        .entries()
        .filter((entry) => entry.message === 'run recorded')
        .map((entry) => entry.stored),
    ).toEqual(['written', 'duplicate']);
  });

  it('publishes the run’s metrics with the Target and Region dimensions at the run’s start', async () => {
    const runId = 'metrics-run';
    await record(recordInput(runId, workerOutputs));

    const [call] = publishedMetrics();
    expect(publishedMetrics()).toHaveLength(1);
    expect(call?.Namespace).toBe('WsCeiling');
    expect(valuesOf(call)).toEqual({
      ProbeSucceeded: 1,
      Ceiling: 4,
      DropOnset: 6,
      FailedConnections: 2,
      HandshakeP95: expect.any(Number) as number,
    });
    for (const datum of call?.MetricData ?? []) {
      expect(datum.Dimensions).toEqual([
        { Name: 'Target', Value: 'chat' },
        { Name: 'Region', Value: 'eu-west-1' },
      ]);
      expect(datum.Timestamp).toEqual(new Date(planned.plan.startAt));
    }
  });

  it(
    'makes a run with a failed worker inconclusive, naming the worker and its error, with ProbeSucceeded 0 and ' +
      'no Ceiling',
    async () => {
      const failed = {
        shard: 1,
        failed: {
          error: 'Sandbox.Timedout',
          cause: JSON.stringify({
            errorType: 'Sandbox.Timedout',
            errorMessage: 'RequestId: 5d1c Error: Task timed out after 95.00 seconds',
          }),
        },
      };
      const output = await record(recordInput('failed-worker-run', [workerOutputs[0]!, failed]));

      expect(output.verdict).toBe('inconclusive');
      expect(output.verdictReason).toBe(
        'The run was stopped before it finished (worker 1 failed: Sandbox.Timedout: RequestId: 5d1c Error: Task ' +
          'timed out after 95.00 seconds).',
      );
      expect(output.ceiling.value).toBeNull();
      expect(output.stored).toBe('written');
      const values = valuesOf(publishedMetrics()[0]);
      expect(values.ProbeSucceeded).toBe(0);
      expect(values).not.toHaveProperty('Ceiling');
      expect(values).not.toHaveProperty('CeilingToBaseline');
      expect(log.entries().find((entry) => entry.message === 'shard stopped early')).toMatchObject({
        level: 'warn',
        shard: 1,
      });
    },
  );

  it('makes a run inconclusive when a worker’s result is missing from S3 or absent from the map results', async () => {
    const lost = { ...workerOutputs[1]!, resultKey: 'runs/chat/elsewhere/shard-1.json' };
    const missing = await record(recordInput('missing-object-run', [workerOutputs[0]!, lost]));
    expect(missing.verdict).toBe('inconclusive');
    expect(missing.verdictReason).toContain("worker 1's result runs/chat/elsewhere/shard-1.json is missing");

    const absent = await record(recordInput('absent-worker-run', [workerOutputs[1]!]));
    expect(absent.verdict).toBe('inconclusive');
    expect(absent.verdictReason).toContain('worker 0 returned no result');
  });

  it('keeps the run when CloudWatch refuses its metrics, and logs the failure', async () => {
    cloudWatch
      .on(PutMetricDataCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'InvalidParameterValue', $fault: 'client' }));
    const output = await record(recordInput('metrics-refused-run', workerOutputs));
    expect(output.stored).toBe('written');
    expect((await runs.latestRuns('chat', 20)).some((run) => run.runId === 'metrics-refused-run')).toBe(true);
    expect(log.entries().find((entry) => entry.level === 'error')).toMatchObject({
      message: 'metrics not published; the run is stored',
      runId: 'metrics-refused-run',
    });
  });
});

describe('handler (record): messages, reports, skipped runs and the run lock', () => {
  it(
    'sends on-call one message for a run that pages: a plain body for e-mail, a Chatbot custom notification ' +
      'for https, with the report kept in S3',
    async () => {
      const runId = 'below-floor-run';
      const input = { ...recordInput(runId, workerOutputs), target: { ...planned.target, floor: 8 } };
      const output = await record(input);
      expect(output.verdict).toBe('below-floor');

      const [message] = published();
      expect(published()).toHaveLength(1);
      expect(message).toMatchObject({ TopicArn: TOPIC, MessageStructure: 'json' });
      expect(message?.Subject).toBe('ws-ceiling: chat probed from eu-west-1: BELOW-FLOOR (ceiling 4, floor 8)');
      const bodies = JSON.parse(message?.Message ?? '') as { default: string; email: string; https: string };
      expect(bodies.email).toBe(bodies.default);
      const key = `reports/chat/${runId}.html`;
      const consoleUrl =
        `https://eu-west-1.console.aws.amazon.com/s3/object/${BUCKET}?region=eu-west-1&bucketType=general` +
        `&prefix=${encodeURIComponent(key)}`;
      expect(bodies.email).toContain('ws-ceiling: chat probed from eu-west-1: BELOW-FLOOR');
      expect(bodies.email).toContain('Ceiling: 4 concurrent connections; under the floor of 8');
      expect(bodies.email).toContain(
        'Cause:   The server refused upgrades with HTTP 503 once 6 connections were open: a concurrency cap.',
      );
      expect(bodies.email).toContain(`ws-ceiling report ${runId} --region eu-west-1`);
      expect(bodies.email).toContain(consoleUrl);
      const chat = JSON.parse(bodies.https) as Record<string, unknown> & { content: Record<string, unknown> };
      expect(chat).toMatchObject({
        version: '1.0',
        source: 'custom',
        content: {
          textType: 'client-markdown',
          title: ':red_circle: ws-ceiling: chat probed from eu-west-1: BELOW-FLOOR',
        },
        metadata: { threadId: 'ws-ceiling-eu-west-1-chat', eventType: 'below-floor' },
      });
      expect(chat.content.nextSteps).toContain(`\`ws-ceiling report ${runId} --region eu-west-1\``);
      // The report is the one `ws-ceiling report` writes, kept in the shard-results bucket under reports/.
      expect(s3.objects.get(`${BUCKET}/${key}`)).toMatch(/^<!doctype html>/i);
      expect(s3.objects.get(`${BUCKET}/${key}`)).toContain(runId);
      expect(JSON.stringify(published())).not.toContain('sekrit');
    },
  );

  it('sends nothing for an ok run after an ok run', async () => {
    await record(recordInput('quiet-run', workerOutputs));
    // The previous run of chat (this file's runs) decides; only a run after a paging one says OK again.
    const previous = (await runs.latestRuns('chat', 20)).find((run) => run.runId !== 'quiet-run');
    if (previous?.verdict === 'ok') expect(published()).toEqual([]);
    else expect(published()[0]?.Subject).toContain('OK again');
  });

  it(
    'records a run the plan step found locked as skipped: RunSkipped only, no message, and the holder keeps ' +
      'its lock',
    async () => {
      const holder = { runId: 'holding-run', since: Date.now(), until: Date.now() + 60_000 };
      await expect(locks.acquire('chat', holder)).resolves.toEqual({ acquired: true });
      const { shards: _none, ...plannedOnly } = recordInput('skipped-run', []);
      const output = await record({ ...plannedOnly, shardTasks: [], skipped: { heldBy: holder } });

      expect(output).toMatchObject({ verdict: 'skipped', ceiling: { value: null, reached: false }, stored: 'written' });
      expect(output.verdictReason).toContain('Skipped: run holding-run of chat held the run lock');
      const stored = (await runs.latestRuns('chat', 50)).find((run) => run.runId === 'skipped-run');
      expect(stored?.verdict).toBe('skipped');
      expect(publishedMetrics()).toHaveLength(1);
      expect(valuesOf(publishedMetrics()[0])).toEqual({ RunSkipped: 1 });
      expect(published()).toEqual([]);
      // Still held by the run that took it: another run cannot take it.
      const other = { runId: 'other-run', since: Date.now(), until: Date.now() + 60_000 };
      await expect(locks.acquire('chat', other)).resolves.toMatchObject({ acquired: false });
      await locks.release('chat', 'holding-run');
    },
  );

  it('releases the run lock when recording fails, and on the state machine’s failure path', async () => {
    const now = Date.now();
    await locks.acquire('chat', { runId: 'failing-run', since: now, until: now + 600_000 });
    const broken = { ...recordInput('failing-run', workerOutputs), plan: { ...planned.plan, shards: undefined } };
    await expect(recordHandler(broken as unknown as RecordStepInput, lambdaContext())).rejects.toThrow();
    // Released: the next run takes it at once.
    await expect(locks.acquire('chat', { runId: 'next-run', since: now, until: now + 600_000 })).resolves.toEqual({
      acquired: true,
    });

    // The state machine's catch, after a map or record failure, hands the record function a release request.
    await expect(
      recordHandler({ releaseLock: { targetId: 'chat', runId: 'next-run' } }, lambdaContext()),
    ).resolves.toEqual({ released: true });
    await expect(
      recordHandler({ releaseLock: { targetId: 'chat', runId: 'next-run' } }, lambdaContext()),
    ).resolves.toEqual({ released: false });
    await expect(locks.acquire('chat', { runId: 'later-run', since: now, until: now + 1 })).resolves.toEqual({
      acquired: true,
    });
    await locks.release('chat', 'later-run');
  });

  it('keeps the run when the topic refuses the message, and logs it', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('Topic gone'), { name: 'NotFoundException' }));
    const input = { ...recordInput('unsent-run', workerOutputs), target: { ...planned.target, floor: 8 } };
    const output = await record(input);
    expect(output.stored).toBe('written');
    expect(log.entries().find((entry) => entry.level === 'error')).toMatchObject({
      message: 'message not sent to on-call; the run is stored and its alarms still fire',
      runId: 'unsent-run',
    });
    expect(log.entries().find((entry) => entry.message === 'run recorded')).toMatchObject({ alert: 'failed' });
  });
});

describe('describeFailure', () => {
  it('gives the error and the Lambda error message from a JSON cause', () => {
    const cause = JSON.stringify({
      errorType: 'StoreError',
      errorMessage: 'cannot write shard result',
      trace: ['at x', 'at y'],
    });
    expect(describeFailure({ error: 'StoreError', cause })).toBe('StoreError: cannot write shard result');
    expect(describeFailure({ error: 'States.TaskFailed', cause })).toBe(
      'States.TaskFailed: StoreError: cannot write shard result',
    );
  });

  it('keeps a plain-text cause, shortened, and the error alone when there is no cause', () => {
    expect(describeFailure({ error: 'States.Timeout', cause: '' })).toBe('States.Timeout');
    expect(describeFailure({ error: 'Lambda.Unknown', cause: 'The cause could not be determined' })).toBe(
      'Lambda.Unknown: The cause could not be determined',
    );
    expect(describeFailure({ error: 'X', cause: 'y'.repeat(1000) })).toHaveLength('X: '.length + 300 + 1);
  });
});
