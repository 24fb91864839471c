// The deployed worker of a target with a session or `auth: {kind: "sigv4"}` (issue 14), against real servers on
// 127.0.0.1: it signs each upgrade with the Lambda's own credentials (a server verifies them with the known key), and
// sends its session's init message read from Secrets Manager, counting a connection open at the ack and a refused
// session as session-rejected, with the secret in neither the log nor the shard result.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ShardResult } from '../../functions/engine/types.js';
import { handler } from '../../functions/handlers/worker-handler.js';
import type { ShardTask, WorkerOutput } from '../../functions/steps/step-payloads.js';
import {
  captureStdout,
  fakeS3,
  lambdaContext,
  plannedRun,
  TEST_AWS_ENVIRONMENT,
  testTarget,
  useWorkerStore,
} from '../support/deployed-run.js';
import { startGatedEndpoint } from '../support/real-endpoints.js';
import { startSigV4Server } from '../support/sigv4-server.js';

const BUCKET = 'shard-results';
const TABLE = 'ws-ceiling-runs';
const TOKEN = 'init-sekrit-7c1e';

useWorkerStore('ws-ceiling-worker-sessions-', TABLE, BUCKET);

const secretsManager = mockClient(SecretsManagerClient);
let s3: ReturnType<typeof fakeS3>;
let log: ReturnType<typeof captureStdout>;
const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  secretsManager.reset();
  secretsManager
    .on(GetSecretValueCommand, { SecretId: 'chat/init' })
    .resolves({ SecretString: `{"type":"connection_init","payload":{"token":"${TOKEN}"}}` });
  s3 = fakeS3();
  log = captureStdout();
  cleanups.push(s3.restore, log.restore);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function onlyTask(target: ReturnType<typeof testTarget>): ShardTask {
  const { shardTasks } = plannedRun(target);
  expect(shardTasks).toHaveLength(1);
  return shardTasks[0] as ShardTask;
}

function storedResult(output: WorkerOutput): ShardResult {
  return JSON.parse(s3.objects.get(`${BUCKET}/${output.resultKey}`) ?? '{}') as ShardResult;
}

describe('handler (worker) of a target with auth: {kind: "sigv4"}', () => {
  it("signs each upgrade URL with the Lambda's credentials, which the server verifies", async () => {
    const { AWS_ACCESS_KEY_ID: keyId, AWS_SECRET_ACCESS_KEY: secret } = TEST_AWS_ENVIRONMENT;
    const server = await startSigV4Server({ keys: { [keyId]: secret }, region: 'eu-west-1', service: 'execute-api' });
    cleanups.push(() => server.stop());
    const auth = { kind: 'sigv4', region: 'eu-west-1', apiId: 'a1b2c3d4e5' };
    const task = onlyTask(testTarget(`${server.url}/prod`, { auth }));

    const output = await handler(task, lambdaContext());

    expect(output).toMatchObject({ records: 3, opened: 3 });
    expect(server.accepted()).toBe(3);
    expect(server.refusals).toEqual([]);
    expect(log.lines.join('\n')).not.toContain('X-Amz-Signature');
    expect(log.entries()[0]).toMatchObject({ sigv4: { region: 'eu-west-1', service: 'execute-api' } });
  });
});

describe('handler (worker) of a target with a session', () => {
  it('sends the init message read from Secrets Manager, and a refused session is session-rejected', async () => {
    const gate = await startGatedEndpoint({ refusal: 'error-message', closeCode: 4429, cap: 2, token: TOKEN });
    cleanups.push(() => gate.stop());
    const session = {
      initMessages: [{ secretName: 'chat/init' }],
      readyWhen: 'connection_ack',
      readyTimeoutSeconds: 2,
    };
    const task = onlyTask(testTarget(`${gate.url}/graphql`, { session }));

    const output = await handler(task, lambdaContext());

    const records = storedResult(output).records;
    expect(records.map((record) => record.outcome).sort()).toEqual(['opened', 'opened', 'session-rejected']);
    expect(records.find((record) => record.outcome === 'session-rejected')?.session).toMatchObject({
      reason: 'error-message',
      closeCode: 4429,
    });
    expect(gate.gate.stats()).toMatchObject({ acked: 2, refused: { cap: 1, token: 0 } });
    expect([...s3.objects.values()].join('\n')).not.toContain(TOKEN);
    expect(log.lines.join('\n')).not.toContain(TOKEN);
    expect(log.entries()[0]).toMatchObject({ initMessages: 1 });
  });
});
