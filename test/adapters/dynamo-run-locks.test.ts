import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRunLocks, runLockKey } from '../../functions/adapters/dynamo-run-locks.js';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { StoreError } from '../../functions/engine/errors.js';
import { closedPort } from '../support/ports.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const TABLE = 'ws-ceiling-runs';
const T0 = Date.UTC(2026, 2, 1, 2, 0);

let embedded: EmbeddedDynamo;
let directory: string;
let locks: DynamoRunLocks;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'ws-ceiling-locks-'));
  embedded = await startEmbeddedDynamo({ directory });
  await new DynamoRunStore({ client: embedded.client, tableName: TABLE }).ensureTable();
  locks = new DynamoRunLocks({ client: embedded.client, tableName: TABLE });
});

afterAll(async () => {
  await embedded.stop();
  await rm(directory, { recursive: true, force: true });
});

describe('DynamoRunLocks on the embedded store', () => {
  it('takes a free lock, refuses it to another run until it expires, and says who holds it', async () => {
    const first = { runId: 'run-1', since: T0, until: T0 + 1_200_000 };
    expect(await locks.acquire('chat', first)).toEqual({ acquired: true });
    const { Item } = await embedded.client.send(
      new GetItemCommand({ TableName: TABLE, Key: runLockKey('chat'), ConsistentRead: true }),
    );
    expect(Item).toMatchObject({
      pk: { S: 'LOCK#chat' },
      sk: { S: 'LOCK' },
      runId: { S: 'run-1' },
      until: { N: String(T0 + 1_200_000) },
      // DynamoDB's TTL removes the item a day after the lock expired.
      expiresAt: { N: String((T0 + 1_200_000) / 1000 + 86_400) },
    });
    expect(await locks.acquire('chat', { runId: 'run-2', since: T0 + 60_000, until: T0 + 2_000_000 })).toEqual({
      acquired: false,
      holder: first,
    });
    // The same run may take it again (a retried plan step).
    expect(await locks.acquire('chat', { ...first, since: T0 + 1000 })).toEqual({ acquired: true });
    // Another target's lock is its own.
    expect(await locks.acquire('feed', { runId: 'run-3', since: T0, until: T0 + 1000 })).toEqual({ acquired: true });
    // Expired (whatever DynamoDB's TTL has done): free again.
    const late = { runId: 'run-4', since: T0 + 1_300_000, until: T0 + 2_500_000 };
    expect(await locks.acquire('chat', late)).toEqual({ acquired: true });
  });

  it('releases only the lock its run holds', async () => {
    await locks.acquire('alerts', { runId: 'run-a', since: T0, until: T0 + 60_000 });
    expect(await locks.release('alerts', 'run-b')).toBe(false);
    expect(await locks.release('alerts', 'run-a')).toBe(true);
    expect(await locks.release('alerts', 'run-a')).toBe(false);
    expect(await locks.acquire('alerts', { runId: 'run-b', since: T0, until: T0 + 60_000 })).toEqual({
      acquired: true,
    });
  });

  it('turns an unreachable table into a StoreError naming the operation and the table', async () => {
    const client = new DynamoDBClient({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const unreachable = new DynamoRunLocks({ client, tableName: TABLE });
    await expect(unreachable.acquire('chat', { runId: 'r', since: T0, until: T0 + 1 })).rejects.toThrow(StoreError);
    await expect(unreachable.release('chat', 'r')).rejects.toThrow(
      /^cannot release the run lock of target chat in DynamoDB table ws-ceiling-runs: /,
    );
    client.destroy();
  });
});
