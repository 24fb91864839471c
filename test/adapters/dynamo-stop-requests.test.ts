import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { DynamoStopRequests, stopRequestKey } from '../../functions/adapters/dynamo-stop-requests.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { RUNS_TABLE_TTL_ATTRIBUTE, stopRequestPartitionKey } from '../../functions/steps/deployment-names.js';
import { StoreError } from '../../functions/engine/errors.js';
import { closedPort } from '../support/ports.js';
import { cappedRun, heldRun } from '../support/run-results.js';

const TABLE = 'ws-ceiling-runs';
const PLANNED_AT = Date.parse('2026-03-01T02:00:00.000Z');

const started: EmbeddedDynamo[] = [];
const directories: string[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((store) => store.stop()));
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** The embedded store in a fresh directory with the runs table, its run store and its stop requests. */
async function openTable(): Promise<{ client: DynamoDBClient; runs: DynamoRunStore; stops: DynamoStopRequests }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'ws-ceiling-stops-'));
  directories.push(directory);
  const embedded = await startEmbeddedDynamo({ directory });
  started.push(embedded);
  const runs = new DynamoRunStore({ client: embedded.client, tableName: TABLE });
  await runs.ensureTable();
  return {
    client: embedded.client,
    runs,
    stops: new DynamoStopRequests({ client: embedded.client, tableName: TABLE }),
  };
}

describe('stopRequestKey', () => {
  it('keys a stop request by target, apart from its runs', () => {
    expect(stopRequestKey('chat')).toEqual({ pk: { S: 'STOP#chat' }, sk: { S: 'STOP' } });
  });

  it("uses the partition key a worker's grant is limited to", () => {
    expect(stopRequestKey('chat').pk.S).toBe(stopRequestPartitionKey('chat'));
  });
});

describe('DynamoStopRequests on the embedded store', () => {
  it('stops runs planned at or before the request, not later ones or other targets', async () => {
    const { stops } = await openTable();
    expect(await stops.stopRequestedSince('chat', PLANNED_AT)).toBe(false);
    await stops.requestStop('chat', new Date(PLANNED_AT + 5_000));
    expect(await stops.stopRequestedSince('chat', PLANNED_AT)).toBe(true);
    expect(await stops.stopRequestedSince('chat', PLANNED_AT + 5_000)).toBe(true);
    expect(await stops.stopRequestedSince('chat', PLANNED_AT + 5_001)).toBe(false);
    expect(await stops.stopRequestedSince('analytics-events', PLANNED_AT)).toBe(false);
  });

  it('writes one item per target with the request time and a one-day TTL', async () => {
    const { client, stops } = await openTable();
    await stops.requestStop('chat', new Date(PLANNED_AT + 1_500));
    const { Item } = await client.send(new GetItemCommand({ TableName: TABLE, Key: stopRequestKey('chat') }));
    expect(Item).toEqual({
      pk: { S: 'STOP#chat' },
      sk: { S: 'STOP' },
      targetId: { S: 'chat' },
      requestedAt: { N: String(PLANNED_AT + 1_500) },
      [RUNS_TABLE_TTL_ATTRIBUTE]: { N: String(Math.floor((PLANNED_AT + 1_500) / 1000) + 86_400) },
    });
  });

  it('keeps the latest request: a later one replaces it, an earlier one does not', async () => {
    const { stops } = await openTable();
    await stops.requestStop('chat', new Date(PLANNED_AT + 10_000));
    await stops.requestStop('chat', new Date(PLANNED_AT - 60_000));
    expect(await stops.stopRequestedSince('chat', PLANNED_AT + 10_000)).toBe(true);
    await stops.requestStop('chat', new Date(PLANNED_AT + 20_000));
    expect(await stops.stopRequestedSince('chat', PLANNED_AT + 20_000)).toBe(true);
  });

  it("leaves the table's runs as they were: recentRuns skips stop requests, latestRuns never sees them", async () => {
    const { runs, stops } = await openTable();
    await runs.putRun(cappedRun);
    await stops.requestStop(cappedRun.targetId, new Date(PLANNED_AT));
    await stops.requestStop('other-target', new Date(PLANNED_AT));
    await runs.putRun(heldRun);
    expect(await runs.recentRuns(10)).toStrictEqual([heldRun, cappedRun]);
    expect(await runs.latestRuns(cappedRun.targetId, 10)).toStrictEqual([heldRun, cappedRun]);
  });

  it('throws a StoreError naming the table when DynamoDB cannot be reached', async () => {
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const stops = new DynamoStopRequests({ client, tableName: TABLE });
      await expect(stops.requestStop('chat', new Date())).rejects.toThrow(StoreError);
      await expect(stops.requestStop('chat', new Date())).rejects.toThrow(
        /cannot record a stop request for target chat in DynamoDB table ws-ceiling-runs/,
      );
      await expect(stops.stopRequestedSince('chat', 0)).rejects.toThrow(
        /cannot read the stop request of target chat in DynamoDB table ws-ceiling-runs/,
      );
    } finally {
      client.destroy();
    }
  });
});
