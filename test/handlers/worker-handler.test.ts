import type { IncomingHttpHeaders } from 'node:http';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { DynamoStopRequests } from '../../functions/adapters/dynamo-stop-requests.js';
import { WORKER_STOP_MARGIN_MS } from '../../functions/config/worker-budget.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { MAP_RESULT_ALLOWANCE_BYTES } from '../../functions/config/run-state.js';
import type { FailedShard, ShardTask, WorkerOutput } from '../../functions/steps/step-payloads.js';
import type { ShardResult } from '../../functions/engine/types.js';
import { shardRampRule } from '../../functions/steps/worker-step.js';
import { compactError, MAX_REPORTED_MESSAGE_LENGTH } from '../../functions/handlers/compact-error.js';
import { handler } from '../../functions/handlers/worker-handler.js';
import {
  startTargetSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../functions/simulator/target-simulator.js';
import {
  captureStdout,
  fakeS3,
  lambdaContext,
  plannedRun,
  testTarget,
  useWorkerStore,
} from '../support/deployed-run.js';

const BUCKET = 'shard-results';
const TABLE = 'ws-ceiling-runs';
const SECRET = 'tok-sekrit-1';

const dynamo = useWorkerStore('ws-ceiling-worker-', TABLE, BUCKET);

const secretsManager = mockClient(SecretsManagerClient);
let s3: ReturnType<typeof fakeS3>;
let log: ReturnType<typeof captureStdout>;
const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  secretsManager.reset();
  secretsManager.on(GetSecretValueCommand, { SecretId: 'chat/probe-token' }).resolves({ SecretString: SECRET });
  s3 = fakeS3();
  log = captureStdout();
  cleanups.push(s3.restore, log.restore);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const running = await startTargetSimulator(options);
  cleanups.push(() => running.stop());
  return running;
}

/** The only shard task of a run of `target` starting in 200 ms. */
function onlyTask(target: ReturnType<typeof testTarget>): ShardTask {
  const { shardTasks } = plannedRun(target);
  expect(shardTasks).toHaveLength(1);
  return shardTasks[0] as ShardTask;
}

/** The ShardResult the worker wrote to the fake bucket. */
function storedResult(output: WorkerOutput): ShardResult {
  const body = s3.objects.get(`${BUCKET}/${output.resultKey}`);
  expect(body).toBeDefined();
  return JSON.parse(body as string) as ShardResult;
}

const secretHeaders = { Authorization: { secretName: 'chat/probe-token', prefix: 'Bearer ' }, 'X-Tenant': 'acme' };

describe('handler (worker)', () => {
  it('sends the secret header to the target but never logs it or writes it to S3', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (_socket, request) => seen.push(request.headers));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/socket?token=query-sekrit`;
    const task = onlyTask(testTarget(url, { headers: secretHeaders }));

    const output = await handler(task, lambdaContext());

    expect(seen).toHaveLength(3);
    expect(
      seen.every((headers) => headers.authorization === `Bearer ${SECRET}` && headers['x-tenant'] === 'acme'),
    ).toBe(true);
    expect(output).toEqual({ shard: 0, resultKey: `runs/chat/${task.runId}/shard-0.json`, records: 3, opened: 3 });
    expect(storedResult(output).records.map((record) => record.outcome)).toEqual(['opened', 'opened', 'opened']);
    expect([...s3.objects.values()].join('\n')).not.toContain('sekrit');
    expect(log.lines.join('\n')).not.toContain('sekrit');
    expect(log.entries().map((entry) => entry.message)).toEqual(['shard starting', 'shard finished']);
    expect(log.entries()[0]).toMatchObject({
      step: 'worker',
      runId: task.runId,
      targetId: 'chat',
      shard: 0,
      headers: ['Authorization', 'X-Tenant'],
    });
  });

  it('says how late it started when its cold start outlasted the start delay, on the clock of the plan', async () => {
    const target = await simulator({});
    // Planned as if the start delay had passed 1.6 s ago: this worker is 1.6 s late.
    const { shardTasks } = plannedRun(testTarget(target.url), -1600);
    const task = shardTasks[0] as ShardTask;

    const output = await handler(task, lambdaContext());

    expect(output.startedLateMs).toBeGreaterThanOrEqual(1600);
    expect(output.startedLateMs).toBeLessThan(60_000);
    expect(log.entries().find((entry) => entry.message === 'shard starting late')).toMatchObject({
      level: 'warn',
      shard: 0,
      lateMs: output.startedLateMs,
      reason: `worker 0 started ${(output.startedLateMs ?? 0) / 1000} s after the planned start`,
    });
    // On time, nothing is said.
    const onTime = await handler(onlyTask(testTarget(target.url)), lambdaContext());
    expect(onTime.startedLateMs).toBeUndefined();
  });

  it('stops after the first stage that fails, as a single process would', async () => {
    const target = await simulator({ cap: { limit: 4, response: { kind: 'status', status: 503 } } });
    const task = onlyTask(testTarget(target.url, { plan: { stages: [3, 6, 9], holdSeconds: 0.5, connectRate: 200 } }));

    const output = await handler(task, lambdaContext());
    const result = storedResult(output);

    expect(result.stagesRun).toBe(2);
    expect(result.records.filter((record) => record.stage === 2)).toHaveLength(0);
    expect(result.records.filter((record) => record.status === 503)).toHaveLength(2);
    expect(output).toMatchObject({ records: 6, opened: 4 });
    expect(output.aborted).toBeUndefined();
    await target.stop();
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 4 });
  });

  it('stops ahead of the Lambda deadline and still returns and stores its records', async () => {
    const target = await simulator({});
    const task = onlyTask(testTarget(target.url, { plan: { stages: [5], holdSeconds: 60, connectRate: 200 } }));
    const remainingMs = WORKER_STOP_MARGIN_MS + 1500;
    const started = Date.now();

    const output = await handler(task, lambdaContext(remainingMs));
    const elapsed = Date.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(remainingMs);
    expect(output.aborted).toEqual({
      failureClass: 'interrupted',
      message: `worker 0 stopped ${WORKER_STOP_MARGIN_MS / 1000} s before its Lambda deadline`,
    });
    expect(storedResult(output).records).toHaveLength(5);
    expect(storedResult(output).aborted).toEqual(output.aborted);
    expect(log.entries().find((entry) => entry.message === 'shard stopping early')).toMatchObject({ level: 'warn' });
    await target.stop();
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 5 });
  });

  it('stops when a stop request for its target appears after the run was planned', async () => {
    const target = await simulator({});
    const task = onlyTask(testTarget(target.url, { plan: { stages: [5], holdSeconds: 60, connectRate: 200 } }));
    const stops = new DynamoStopRequests({ client: dynamo().client, tableName: TABLE });
    const started = Date.now();
    const stopper = setTimeout(() => void stops.requestStop('chat', new Date()), 1000);
    cleanups.push(() => clearTimeout(stopper));

    const output = await handler(task, lambdaContext());

    expect(Date.now() - started).toBeLessThan(15_000);
    expect(output.aborted).toEqual({
      failureClass: 'interrupted',
      message: 'worker 0 stopped by a stop request for target chat',
    });
    expect(storedResult(output).records).toHaveLength(5);
    await target.stop();
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 5 });
  });

  it('refuses a target whose host is not in ALLOWED_HOSTS before opening anything', async () => {
    const target = await simulator({});
    const task = onlyTask(testTarget(target.url.replace('127.0.0.1', 'localhost')));
    await expect(handler(task, lambdaContext())).rejects.toThrow(InvalidInputError);
    await expect(handler(task, lambdaContext())).rejects.toThrow(
      'host localhost is not allowed by this deployment (allowed: 127.0.0.1)',
    );
    expect(target.stats().accepted).toBe(0);
    expect(s3.objects.size).toBe(0);
  });

  it('logs a failure in full but reports it to Step Functions within the plan’s per-shard allowance', async () => {
    const target = await simulator({});
    const task = onlyTask(testTarget(target.url.replace('127.0.0.1', 'localhost')));
    const error = await handler(task, lambdaContext()).then(
      () => expect.fail('the worker should refuse the host'),
      (caught: Error) => caught,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.stack).toBe('InvalidInputError');
    const logged = log.entries().find((entry) => entry.message === 'worker failed');
    expect(logged?.error).toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringContaining('host localhost is not allowed') as string,
    });
    expect(String((logged?.error as { stack?: string }).stack).split('\n').length).toBeGreaterThan(2);
    expect(Buffer.byteLength(JSON.stringify(failedShardOf(error)))).toBeLessThanOrEqual(MAP_RESULT_ALLOWANCE_BYTES);
  });

  it('fails naming the header and the secret when the secret cannot be read', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejects(
        new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }),
      );
    const target = await simulator({});
    const task = onlyTask(testTarget(target.url, { headers: secretHeaders }));
    await expect(handler(task, lambdaContext())).rejects.toThrow(
      'header Authorization: secret chat/probe-token: cannot be read from Secrets Manager',
    );
    expect(target.stats().accepted).toBe(0);
  });
});

/** The map catch's FailedShard for `error`, its cause the document Lambda's Node runtime makes of a thrown error. */
function failedShardOf(error: Error): FailedShard {
  const cause = JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: error.stack?.split('\n') });
  return { shard: 99, failed: { error: error.name, cause } };
}

describe('compactError', () => {
  it('cuts a long message to its limit and the stack to the name, keeping the class', () => {
    const error = compactError(new InvalidInputError('url', `bad value ${'x'.repeat(5000)}`));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toHaveLength(MAX_REPORTED_MESSAGE_LENGTH);
    expect(error.message.endsWith('…')).toBe(true);
    expect(error.stack).toBe(error.name);
    expect(Buffer.byteLength(JSON.stringify(failedShardOf(error)))).toBeLessThanOrEqual(MAP_RESULT_ALLOWANCE_BYTES);
  });

  it('cuts a message of quotes and non-Latin text sooner, as it takes more room escaped twice', () => {
    for (const text of ['"'.repeat(5000), '\\'.repeat(5000), 'ж'.repeat(5000), '\u0001'.repeat(5000)]) {
      const error = compactError(new Error(text));
      expect(error.message.endsWith('…')).toBe(true);
      expect(Buffer.byteLength(JSON.stringify(failedShardOf(error)))).toBeLessThanOrEqual(MAP_RESULT_ALLOWANCE_BYTES);
    }
    expect(compactError(new Error('short')).message).toBe('short');
  });
});

describe('shardRampRule', () => {
  const target = testTarget('ws://127.0.0.1:1/', {
    plan: { stages: [30, 60], holdSeconds: 1, connectRate: 90, shardSize: 10 },
  });
  const tasks = plannedRun(target).shardTasks;

  it('splits a count tolerance into shares that add up to it, the remainder to the first shards', () => {
    const withTolerance = (value: number) =>
      tasks.map(
        (task) => shardRampRule({ ...task, target: { ...target, tolerance: { kind: 'count', value } } }).tolerance,
      );
    expect(tasks).toHaveLength(6);
    expect(withTolerance(8).map((tolerance) => tolerance.value)).toEqual([2, 2, 1, 1, 1, 1]);
    expect(withTolerance(0).map((tolerance) => tolerance.value)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(withTolerance(1).map((tolerance) => tolerance.value)).toEqual([1, 0, 0, 0, 0, 0]);
  });

  it('takes the shard count from its task, not from the rates', () => {
    // One shard of four planned at the run's own rate: rates alone would say one shard and give it all 8.
    const task = { ...tasks[0]!, shard: { ...tasks[0]!.shard, connectRate: target.plan.connectRate }, shardCount: 4 };
    expect(shardRampRule({ ...task, target: { ...target, tolerance: { kind: 'count', value: 8 } } }).tolerance).toEqual(
      { kind: 'count', value: 2 },
    );
  });

  it('applies a percent tolerance to the shard’s own share of each stage', () => {
    const rule = shardRampRule({ ...tasks[0]!, target: { ...target, tolerance: { kind: 'percent', value: 10 } } });
    expect(rule).toEqual({ tolerance: { kind: 'percent', value: 10 }, stageTargets: [5, 10] });
  });
});
