import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudWatchClient, PutMetricDataCommand, type PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { describeFailure } from '../../functions/steps/record-step.js';
import type { PlanStepOutput, RecordStepInput, WorkerOutput } from '../../functions/steps/step-payloads.js';
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

let dynamo: EmbeddedDynamo;
let runs: DynamoRunStore;
let storeDirectory: string;
let simulator: RunningSimulator;
let s3: ReturnType<typeof fakeS3>;
let restoreEnvironment: () => void;
const secretsManager = mockClient(SecretsManagerClient);
const cloudWatch = mockClient(CloudWatchClient);

/** A run of two workers against a cap of 5 (stages 4 → 8), recorded by the tests below. */
let planned: PlanStepOutput;
let workerOutputs: WorkerOutput[];

beforeAll(async () => {
  storeDirectory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-record-'));
  dynamo = await startEmbeddedDynamo({ directory: storeDirectory });
  runs = new DynamoRunStore({ client: dynamo.client, tableName: TABLE });
  await runs.ensureTable();
  restoreEnvironment = setEnvironment({
    ...TEST_AWS_ENVIRONMENT,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    ALLOWED_HOSTS: '127.0.0.1',
    SHARD_RESULTS_BUCKET: BUCKET,
    RUNS_TABLE: TABLE,
  });
  s3 = fakeS3();
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'tok-sekrit-1' });
  simulator = await startTargetSimulator({ cap: { limit: 5, response: { kind: 'status', status: 503 } } });
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
  restoreEnvironment();
  await dynamo.stop();
  await rm(storeDirectory, { recursive: true, force: true });
});

let log: ReturnType<typeof captureStdout>;
beforeEach(() => {
  cloudWatch.reset();
  cloudWatch.on(PutMetricDataCommand).resolves({});
  log = captureStdout();
});
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

    const first = await recordHandler(input, lambdaContext());
    const again = await recordHandler(input, lambdaContext());

    expect(first).toEqual({
      runId: planned.runId,
      targetId: 'chat',
      verdict: 'ok',
      verdictReason: expect.stringContaining('Concurrency cap at 5') as string,
      ceiling: { value: 4, reached: true },
      dropOnset: 5,
      limitingFactor: 'concurrency-cap',
      stored: 'written',
    });
    expect(again).toEqual({ ...first, stored: 'duplicate' });
    const stored = (await runs.latestRuns('chat', 10)).filter((run) => run.runId === planned.runId);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.failures.byStatus).toEqual({ '503': 3 });
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
    await recordHandler(recordInput(runId, workerOutputs), lambdaContext());

    const [call] = publishedMetrics();
    expect(publishedMetrics()).toHaveLength(1);
    expect(call?.Namespace).toBe('WsCeiling');
    expect(valuesOf(call)).toEqual({
      ProbeSucceeded: 1,
      Ceiling: 4,
      DropOnset: 5,
      FailedConnections: 3,
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
      const output = await recordHandler(
        recordInput('failed-worker-run', [workerOutputs[0]!, failed]),
        lambdaContext(),
      );

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
    const missing = await recordHandler(recordInput('missing-object-run', [workerOutputs[0]!, lost]), lambdaContext());
    expect(missing.verdict).toBe('inconclusive');
    expect(missing.verdictReason).toContain("worker 1's result runs/chat/elsewhere/shard-1.json is missing");

    const absent = await recordHandler(recordInput('absent-worker-run', [workerOutputs[1]!]), lambdaContext());
    expect(absent.verdict).toBe('inconclusive');
    expect(absent.verdictReason).toContain('worker 0 returned no result');
  });

  it('keeps the run when CloudWatch refuses its metrics, and logs the failure', async () => {
    cloudWatch
      .on(PutMetricDataCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'InvalidParameterValue', $fault: 'client' }));
    const output = await recordHandler(recordInput('metrics-refused-run', workerOutputs), lambdaContext());
    expect(output.stored).toBe('written');
    expect((await runs.latestRuns('chat', 20)).some((run) => run.runId === 'metrics-refused-run')).toBe(true);
    expect(log.entries().find((entry) => entry.level === 'error')).toMatchObject({
      message: 'metrics not published; the run is stored',
      runId: 'metrics-refused-run',
    });
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
