import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runLockKey } from '../../functions/adapters/dynamo-run-locks.js';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { worstCaseRunSeconds } from '../../functions/config/region-starts.js';
import { parseTargetConfig } from '../../functions/config/target-config.js';
import { WORKER_START_DELAY_SECONDS } from '../../functions/config/worker-budget.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { PlanStepInput } from '../../functions/steps/step-payloads.js';
import { handler } from '../../functions/handlers/plan-handler.js';
import { captureStdout, lambdaContext, setEnvironment, TEST_AWS_ENVIRONMENT } from '../support/deployed-run.js';

const TABLE = 'ws-ceiling-runs';

let dynamo: EmbeddedDynamo;
let storeDirectory: string;
let restoreAws: () => void;

beforeAll(async () => {
  storeDirectory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-plan-'));
  dynamo = await startEmbeddedDynamo({ directory: storeDirectory });
  await new DynamoRunStore({ client: dynamo.client, tableName: TABLE }).ensureTable();
  restoreAws = setEnvironment({ ...TEST_AWS_ENVIRONMENT, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint });
});

afterAll(async () => {
  restoreAws();
  await dynamo.stop();
  await rm(storeDirectory, { recursive: true, force: true });
});

const restorers: Array<() => void> = [];
afterEach(async () => {
  for (const restore of restorers.splice(0).reverse()) restore();
  // Every test plans runs of chat-prod: each starts with its lock free.
  await dynamo.client.send(new DeleteItemCommand({ TableName: TABLE, Key: runLockKey('chat-prod') }));
});

let log: ReturnType<typeof captureStdout>;
beforeEach(() => {
  restorers.push(setEnvironment({ ALLOWED_HOSTS: 'chat.example.com, other.example.com', RUNS_TABLE: TABLE }));
  log = captureStdout();
  restorers.push(log.restore);
});

/** A target as it arrives in the execution input: the config file's form, with a secret header by reference. */
function requestTarget(fields: Record<string, unknown> = {}) {
  return {
    id: 'chat-prod',
    url: 'wss://chat.example.com/socket?room=blue',
    regions: ['eu-west-1'],
    schedule: { cron: '0 2 * * ? *', timeZone: 'Europe/Paris' },
    headers: { Authorization: { secretName: 'chat/probe-token', prefix: 'Bearer ' }, 'X-Tenant': 'acme-tenant-value' },
    plan: { stages: [500, 1000, 1500], holdSeconds: 60, connectRate: 50 },
    ...fields,
  };
}

/**
 * The plan Lambda's event as the state machine builds it: the execution
 * input, and the shards its map starts at once (2 for the default request's
 * 1,500 connections at 900 per worker).
 */
function planEvent(request: unknown, shardsAtOnce = 2): PlanStepInput {
  return { request, shardsAtOnce };
}

/** The error a promise rejects with. */
async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

describe('handler (plan)', () => {
  it('plans a run starting after the cold-start delay with one task per shard', async () => {
    const before = Date.now();
    const output = await handler(planEvent({ target: requestTarget(), trigger: 'invoke' }), lambdaContext());
    const after = Date.now();
    expect(output.runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(output.plannedAt).toBeGreaterThanOrEqual(before);
    expect(output.plannedAt).toBeLessThanOrEqual(after);
    expect(output.plan.startAt).toBe(output.plannedAt + WORKER_START_DELAY_SECONDS * 1000);
    expect(output.plan.stages.map((stage) => stage.target)).toEqual([500, 1000, 1500]);
    expect(output.target).toEqual(parseTargetConfig(requestTarget(), 'expected'));
    // 1,500 connections at 900 per worker: two shards, each with its share of every stage.
    expect(output.shardTasks).toHaveLength(2);
    expect(output.shardTasks.map((task) => task.shard.newPerStage)).toEqual([
      [250, 250, 250],
      [250, 250, 250],
    ]);
    for (const task of output.shardTasks) {
      expect(task).toMatchObject({
        runId: output.runId,
        plannedAt: output.plannedAt,
        target: output.target,
        stages: output.plan.stages,
        shardCount: 2,
      });
    }
  });

  it('accepts its own output target again, so a re-planned run validates the same', async () => {
    const first = await handler(planEvent({ target: requestTarget() }), lambdaContext());
    await dynamo.client.send(new DeleteItemCommand({ TableName: TABLE, Key: runLockKey('chat-prod') }));
    const second = await handler(planEvent({ target: first.target, trigger: 'schedule' }), lambdaContext());
    expect(second.target).toEqual(first.target);
    expect(second.runId).not.toBe(first.runId);
    expect(second.skipped).toBeUndefined();
  });

  it('takes the run lock of the target until the run’s worst-case end, in the runs table', async () => {
    const output = await handler(planEvent({ target: requestTarget() }), lambdaContext());
    const { Item } = await dynamo.client.send(
      new GetItemCommand({ TableName: TABLE, Key: runLockKey('chat-prod'), ConsistentRead: true }),
    );
    expect(Item).toMatchObject({
      runId: { S: output.runId },
      since: { N: String(output.plannedAt) },
      until: { N: String(output.plannedAt + worstCaseRunSeconds(output.target.plan) * 1000) },
    });
  });

  it('runs one of two plan steps of a target started at once and hands the other on as skipped', async () => {
    const [first, second] = await Promise.all([
      handler(planEvent({ target: requestTarget(), trigger: 'schedule' }), lambdaContext()),
      handler(planEvent({ target: requestTarget(), trigger: 'invoke' }), lambdaContext()),
    ]);
    const outputs = [first, second];
    const ran = outputs.filter((output) => output.skipped === undefined);
    const skipped = outputs.filter((output) => output.skipped !== undefined);
    expect(ran).toHaveLength(1);
    expect(skipped).toHaveLength(1);
    expect(ran[0]?.shardTasks).toHaveLength(2);
    expect(skipped[0]?.shardTasks).toEqual([]);
    expect(skipped[0]?.skipped?.heldBy).toMatchObject({ runId: ran[0]?.runId, since: ran[0]?.plannedAt });
    expect(log.entries().find((entry) => entry.level === 'warn')).toMatchObject({
      message: 'run skipped: another run holds the lock',
      runId: skipped[0]?.runId,
      heldBy: ran[0]?.runId,
    });
  });

  it('logs the plan and cost estimate as one JSON line, with header names but no header or query values', async () => {
    const output = await handler(planEvent({ target: requestTarget(), trigger: 'schedule' }), lambdaContext());
    const [entry] = log.entries();
    expect(log.lines).toHaveLength(1);
    expect(entry).toMatchObject({
      level: 'info',
      message: 'run planned',
      step: 'plan',
      runId: output.runId,
      targetId: 'chat-prod',
      trigger: 'schedule',
      url: 'wss://chat.example.com/socket?room=redacted',
      headers: ['Authorization', 'X-Tenant'],
      stages: [500, 1000, 1500],
      shards: 2,
    });
    expect(entry?.estimate).toMatchObject({ rampAndHoldSeconds: 180 + 30, workerMemoryMb: 512 });
    expect((entry?.estimate as { lambdaUsdAtMost: number }).lambdaUsdAtMost).toBeGreaterThan(0);
    expect(log.lines.join('\n')).not.toMatch(/acme-tenant-value|chat\/probe-token|room=blue/);
  });

  it('fails the execution naming the bad field of the target and what is allowed', async () => {
    const error = await failureOf(
      handler(planEvent({ target: requestTarget({ plan: { stages: [50], holdSeconds: 'soon' } }) }), lambdaContext()),
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('plan.holdSeconds');
    expect(error.message).toContain('must be a number of seconds');
    expect(error.message).toContain('input.target');
  });

  it('fails naming input.target when the input has no target', async () => {
    const error = await failureOf(handler(planEvent({ trigger: 'invoke' }), lambdaContext()));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain('input.target');
  });

  it('refuses a run whose shard count is not what the map starts at once, so no shard starts late', async () => {
    for (const shardsAtOnce of [1, 3]) {
      const error = await failureOf(handler(planEvent({ target: requestTarget() }, shardsAtOnce), lambdaContext()));
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).field).toBe('input.target.plan');
      expect(error.message).toContain(
        `makes 2 shards (1500 connections at shardSize 900), but the deployed state machine starts ${shardsAtOnce}` +
          ' at once',
      );
    }
    expect(log.lines).toHaveLength(0);
  });

  it('names event.shardsAtOnce when the state machine did not set it', async () => {
    for (const event of [
      { target: requestTarget() },
      { request: { target: requestTarget() }, shardsAtOnce: 0 },
      null,
    ]) {
      const error = await failureOf(handler(event, lambdaContext()));
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).field).toBe('event.shardsAtOnce');
    }
  });

  it('refuses a target whose host is not in ALLOWED_HOSTS', async () => {
    const error = await failureOf(
      handler(planEvent({ target: requestTarget({ url: 'wss://victim.example.net/socket' }) }), lambdaContext()),
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('input.target.url');
    expect(error.message).toContain(
      'host victim.example.net is not allowed by this deployment (allowed: chat.example.com, other.example.com)',
    );
    expect(log.lines).toHaveLength(0);
  });

  it('refuses a run state over the Step Functions payload limit, and accepts 4 stages at 100,000', async () => {
    const huge = {
      stages: Array.from({ length: 20 }, (_, i) => (i + 1) * 5000),
      holdSeconds: 5,
      connectRate: 2000,
      maxConnections: 100_000,
    };
    const error = await failureOf(handler(planEvent({ target: requestTarget({ plan: huge }) }, 112), lambdaContext()));
    expect(error).toBeInstanceOf(InvalidInputError);
    // The same check as config check and synth: the target's schema refuses it, naming the field and the fix.
    expect((error as InvalidInputError).field).toBe('plan.stages');
    expect(error.message).toMatch(
      /20 stages over 112 workers make a run state of about \d+ KB, above the 243 KB a run may use of the 256 KB Step Functions allows for a state .*; plan at most \d stages/,
    );
    expect(error.message).toContain('(in input.target)');

    const large = {
      stages: [25_000, 50_000, 75_000, 100_000],
      holdSeconds: 5,
      connectRate: 2000,
      maxConnections: 100_000,
    };
    const output = await handler(planEvent({ target: requestTarget({ plan: large }) }, 112), lambdaContext());
    expect(output.shardTasks).toHaveLength(112);
  });

  it('names ALLOWED_HOSTS on a cold start without it, and reads it once per cold start', async () => {
    restorers.push(setEnvironment({ ALLOWED_HOSTS: undefined }));
    vi.resetModules();
    const cold = await import('../../functions/handlers/plan-handler.js');
    const error = await failureOf(cold.handler(planEvent({ target: requestTarget() }), lambdaContext()));
    expect(error.name).toBe('InvalidInputError');
    expect(error.message).toContain('ALLOWED_HOSTS: environment variable is not set');
    restorers.push(setEnvironment({ ALLOWED_HOSTS: 'chat.example.com' }));
    await cold.handler(planEvent({ target: requestTarget() }), lambdaContext());
    restorers.push(setEnvironment({ ALLOWED_HOSTS: 'other.example.com' }));
    await expect(cold.handler(planEvent({ target: requestTarget() }), lambdaContext())).resolves.toMatchObject({
      target: { id: 'chat-prod' },
    });
  });
});
