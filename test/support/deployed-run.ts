/**
 * Helpers for the in-process tests of the deployed handlers: a validated
 * target, a run planned to start almost at once (the deployed plan waits
 * 20 s for cold starts), a fake Lambda context, the handlers' stdout log
 * lines, and an in-memory S3 bucket behind aws-sdk-client-mock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, vi } from 'vitest';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { parseTargetConfig } from '../../functions/config/target-config.js';
import type { TargetConfig } from '../../functions/config/config-types.js';
import { planRun } from '../../functions/engine/plan.js';
import { settingsWithoutSecrets } from '../../functions/config/target-settings.js';
import type { PlanStepOutput } from '../../functions/steps/step-payloads.js';

/** A validated target probing `url` with `fields` over a small default plan (one stage of 3, held 0.5 s). */
export function testTarget(url: string, fields: Record<string, unknown> = {}): TargetConfig {
  return parseTargetConfig(
    {
      id: 'chat',
      url,
      regions: ['eu-west-1'],
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
      heartbeat: { kind: 'off' },
      plan: { stages: [3], holdSeconds: 0.5, connectRate: 200, handshakeTimeoutSeconds: 2 },
      ...fields,
    },
    'test target',
  );
}

/** The plan step's output for `target`, but starting `startDelayMs` from now (as `planStep` lays it out). */
export function plannedRun(target: TargetConfig, startDelayMs = 200): PlanStepOutput {
  const plannedAt = Date.now();
  const plan = planRun(settingsWithoutSecrets(target), {
    now: () => plannedAt,
    newRunId: () => crypto.randomUUID(),
    startDelayMs,
  });
  return {
    runId: plan.runId,
    target,
    plannedAt,
    plan,
    shardTasks: plan.shards.map((shard) => ({
      runId: plan.runId,
      target,
      plannedAt,
      stages: plan.stages,
      shard,
      shardCount: plan.shards.length,
    })),
  };
}

/** A Lambda context whose deadline is `remainingMs` from its creation. */
export function lambdaContext(remainingMs = 120_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'ws-ceiling-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:ws-ceiling-test',
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/aws/lambda/ws-ceiling-test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Collects every line written to stdout (the handlers' JSON log) until `restore()`. */
export function captureStdout(): {
  lines: string[];
  entries: () => Array<Record<string, unknown>>;
  restore: () => void;
} {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(
      ...String(chunk)
        .split('\n')
        .filter((line) => line.length > 0),
    );
    return true;
  });
  return {
    lines,
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    restore: () => spy.mockRestore(),
  };
}

/** An in-memory S3 bucket answering PutObject and GetObject for every S3Client, until `restore()`. */
export function fakeS3(): { objects: Map<string, string>; restore: () => void } {
  const objects = new Map<string, string>();
  const s3 = mockClient(S3Client);
  s3.on(PutObjectCommand).callsFake((input: { Bucket: string; Key: string; Body: string }) => {
    objects.set(`${input.Bucket}/${input.Key}`, String(input.Body));
    return {};
  });
  s3.on(GetObjectCommand).callsFake((input: { Bucket: string; Key: string }) => {
    const body = objects.get(`${input.Bucket}/${input.Key}`);
    if (body === undefined) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
    return { Body: sdkStreamMixin(Readable.from([Buffer.from(body)])) };
  });
  return { objects, restore: () => s3.restore() };
}

/** Sets environment variables (undefined deletes one) and returns a function that puts the old values back. */
export function setEnvironment(variables: Record<string, string | undefined>): () => void {
  const previous = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(variables);
  return () => apply(previous);
}

/** Dummy AWS settings so SDK clients never look for real credentials or a real region. */
export const TEST_AWS_ENVIRONMENT = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;

/**
 * For a test file of the worker handler: before its tests, an embedded store in a temporary folder with the runs
 * table `tableName`, and the handler's environment pointing at it (allowed host 127.0.0.1, results bucket `bucket`);
 * after them, the environment restored, the store stopped and its folder removed. Returns the store while it runs.
 */
export function useWorkerStore(folderPrefix: string, tableName: string, bucket: string): () => EmbeddedDynamo {
  let dynamo: EmbeddedDynamo | undefined;
  let storeDirectory = '';
  let restoreEnvironment: () => void = () => undefined;
  beforeAll(async () => {
    storeDirectory = await mkdtemp(path.join(tmpdir(), folderPrefix));
    dynamo = await startEmbeddedDynamo({ directory: storeDirectory });
    await new DynamoRunStore({ client: dynamo.client, tableName }).ensureTable();
    restoreEnvironment = setEnvironment({
      ...TEST_AWS_ENVIRONMENT,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      ALLOWED_HOSTS: '127.0.0.1',
      SHARD_RESULTS_BUCKET: bucket,
      RUNS_TABLE: tableName,
    });
  });
  afterAll(async () => {
    restoreEnvironment();
    await dynamo?.stop();
    await rm(storeDirectory, { recursive: true, force: true });
  });
  return () => {
    if (!dynamo) throw new Error('the worker store is started before the tests');
    return dynamo;
  };
}
