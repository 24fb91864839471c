import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoRunStore, runItemKey } from '../../functions/adapters/dynamo-run-store.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { RUN_PARTITION_PREFIX, RUNS_TABLE_TTL_ATTRIBUTE } from '../../functions/steps/deployment-names.js';
import { StoreError } from '../../functions/engine/errors.js';
import type { RunResult } from '../../functions/engine/types.js';
import { cappedRun, heldRun } from '../support/run-results.js';
import { closedPort } from '../support/ports.js';

const TABLE = 'ws-ceiling-runs';

/** A copy of `base` as another run of `targetId` started at `startedAt`. */
function runAt(targetId: string, startedAt: string, base: RunResult = cappedRun): RunResult {
  return { ...base, targetId, startedAt, runId: `run-${targetId}-${startedAt}` };
}

const started: EmbeddedDynamo[] = [];
const directories: string[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill();
  await Promise.all(started.splice(0).map((store) => store.stop()));
  await Promise.all(directories.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ws-ceiling-store-'));
  directories.push(dir);
  return dir;
}

async function start(directory: string): Promise<EmbeddedDynamo> {
  const embedded = await startEmbeddedDynamo({ directory });
  started.push(embedded);
  return embedded;
}

async function openStore(
  directory: string,
  options: { ttlDays?: number; now?: () => Date } = {},
): Promise<{ embedded: EmbeddedDynamo; store: DynamoRunStore }> {
  const embedded = await start(directory);
  const store = new DynamoRunStore({ client: embedded.client, tableName: TABLE, ...options });
  await store.ensureTable();
  return { embedded, store };
}

async function countItems(client: DynamoDBClient): Promise<number | undefined> {
  return (await client.send(new ScanCommand({ TableName: TABLE, Select: 'COUNT' }))).Count;
}

/** Holds the LevelDB at `location` open in a separate Node process until killed. */
async function holdLevelInAnotherProcess(location: string): Promise<void> {
  const levelPath = createRequire(import.meta.url).resolve('level');
  const script = `const { Level } = require(${JSON.stringify(levelPath)});
    new Level(${JSON.stringify(location)}).open().then(
      () => console.log('ready'),
      (e) => { console.error(e); process.exit(1); },
    );
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
}

describe('runItemKey', () => {
  it('keys a run by target, then start time and run id', () => {
    expect(runItemKey(cappedRun)).toEqual({ pk: 'TARGET#chat-prod', sk: 'RUN#2025-03-01T10:00:00.000Z#run-capped' });
    // The record step's grant is limited to partitions with this prefix.
    expect(runItemKey(cappedRun).pk.startsWith(RUN_PARTITION_PREFIX)).toBe(true);
  });
});

describe('DynamoRunStore on the embedded store', () => {
  it('round-trips full runs exactly, nulls and empty maps included', async () => {
    const { store } = await openStore(await tempDir());
    expect(await store.putRun(cappedRun)).toBe('written');
    expect(await store.putRun(heldRun)).toBe('written');
    expect(await store.latestRuns('chat-prod', 10)).toStrictEqual([heldRun, cappedRun]);
  });

  it('writes a run once: a repeated put is a duplicate and leaves one item', async () => {
    const { embedded, store } = await openStore(await tempDir());
    expect(await store.putRun(cappedRun)).toBe('written');
    expect(await store.putRun(cappedRun)).toBe('duplicate');
    expect(await countItems(embedded.client)).toBe(1);
  });

  it('returns the latest runs of one target, newest first, up to the limit', async () => {
    const { store } = await openStore(await tempDir());
    const times = [
      '2025-03-03T00:00:00.000Z',
      '2025-03-01T00:00:00.000Z',
      '2025-03-05T00:00:00.000Z',
      '2025-03-02T00:00:00.000Z',
    ];
    for (const time of times) await store.putRun(runAt('a', time));
    await store.putRun(runAt('b', '2025-03-09T00:00:00.000Z'));
    await store.putRun(runAt('ab', '2025-03-09T00:00:00.000Z'));

    const latest = await store.latestRuns('a', 3);
    expect(latest.map((run) => run.startedAt)).toEqual([
      '2025-03-05T00:00:00.000Z',
      '2025-03-03T00:00:00.000Z',
      '2025-03-02T00:00:00.000Z',
    ]);
    expect((await store.latestRuns('a', 10)).map((run) => run.targetId)).toEqual(['a', 'a', 'a', 'a']);
    expect(await store.latestRuns('missing', 5)).toEqual([]);
    expect(await store.latestRuns('a', 0)).toEqual([]);
  });

  it('returns the recent runs of every target, newest first, up to the limit', async () => {
    const { store } = await openStore(await tempDir());
    await store.putRun(runAt('a', '2025-03-01T00:00:00.000Z'));
    await store.putRun(runAt('b', '2025-03-04T00:00:00.000Z', heldRun));
    await store.putRun(runAt('a', '2025-03-03T00:00:00.000Z'));
    await store.putRun(runAt('c', '2025-03-02T00:00:00.000Z'));

    const recent = await store.recentRuns(3);
    expect(recent.map((run) => [run.targetId, run.startedAt])).toEqual([
      ['b', '2025-03-04T00:00:00.000Z'],
      ['a', '2025-03-03T00:00:00.000Z'],
      ['c', '2025-03-02T00:00:00.000Z'],
    ]);
    expect(recent[0]).toStrictEqual(runAt('b', '2025-03-04T00:00:00.000Z', heldRun));
  });

  it('reads the recent runs through the recent-runs index, never a scan, and only run items are in it', async () => {
    const { embedded, store } = await openStore(await tempDir());
    await store.putRun(runAt('a', '2025-03-01T00:00:00.000Z'));
    await store.putRun(runAt('b', '2025-03-02T00:00:00.000Z', heldRun));
    // Other items of the table (stop requests, run locks) carry no index key.
    await embedded.client.send(
      new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'LOCK#a' }, sk: { S: 'LOCK' }, runId: { S: 'x' } } }),
    );
    const sent: string[] = [];
    embedded.client.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    expect((await store.recentRuns(5)).map((run) => run.targetId)).toEqual(['b', 'a']);
    expect(sent).toEqual(['QueryCommand']);
  });

  it('scans a table made before the index existed, so an old local store still lists its runs', async () => {
    const embedded = await start(await tempDir());
    await embedded.client.send(
      new CreateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const store = new DynamoRunStore({ client: embedded.client, tableName: TABLE });
    await store.ensureTable();
    await store.putRun(runAt('a', '2025-03-01T00:00:00.000Z'));
    await store.putRun(runAt('b', '2025-03-02T00:00:00.000Z', heldRun));
    expect((await store.recentRuns(5)).map((run) => run.targetId)).toEqual(['b', 'a']);
  });

  it('writes the key scheme, the query and alarm attributes and the TTL as top-level attributes', async () => {
    const now = new Date('2025-03-01T12:00:00.000Z');
    const { embedded, store } = await openStore(await tempDir(), { ttlDays: 30, now: () => now });
    await store.putRun(cappedRun);
    await store.putRun(heldRun);

    const get = async (run: RunResult) =>
      (
        await embedded.client.send(
          new GetItemCommand({
            TableName: TABLE,
            Key: { pk: { S: runItemKey(run).pk }, sk: { S: runItemKey(run).sk } },
          }),
        )
      ).Item;
    const capped = await get(cappedRun);
    expect(capped).toMatchObject({
      pk: { S: 'TARGET#chat-prod' },
      sk: { S: 'RUN#2025-03-01T10:00:00.000Z#run-capped' },
      runId: { S: 'run-capped' },
      targetId: { S: 'chat-prod' },
      region: { S: 'eu-west-1' },
      startedAt: { S: '2025-03-01T10:00:00.000Z' },
      verdict: { S: 'regressed' },
      ceiling: { N: '150' },
      ceilingReached: { BOOL: true },
      dropOnset: { N: '151' },
      limitingFactor: { S: 'concurrency-cap' },
      configHash: { S: 'sha256:5f1c0a' },
      probeVersion: { S: '0.1.0' },
      runsIndexPk: { S: 'RUN' },
      [RUNS_TABLE_TTL_ATTRIBUTE]: { N: String(now.getTime() / 1000 + 30 * 86_400) },
    });
    expect(capped?.run?.M).toBeDefined();

    const held = await get(heldRun);
    expect(held).toMatchObject({ verdict: { S: 'ok' }, ceilingReached: { BOOL: false } });
    expect(held).not.toHaveProperty('ceiling');
    expect(held).not.toHaveProperty('dropOnset');
    expect(held).not.toHaveProperty('limitingFactor');
  });

  it('reads a run stored before baselines and timelines existed as having neither', async () => {
    const { embedded, store } = await openStore(await tempDir());
    await store.putRun(heldRun);
    const { baseline: _baseline, timeline: _timeline, ...olderRun } = heldRun;
    await embedded.client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: { S: runItemKey(heldRun).pk }, sk: { S: runItemKey(heldRun).sk } },
        UpdateExpression: 'SET #run = :run',
        ExpressionAttributeNames: { '#run': 'run' },
        ExpressionAttributeValues: { ':run': { M: marshall(olderRun, { removeUndefinedValues: true }) } },
      }),
    );
    const [read] = await store.latestRuns(heldRun.targetId, 1);
    expect(read).toStrictEqual({
      ...olderRun,
      baseline: null,
      timeline: { open: [], stages: [], failures: [], failuresOmitted: 0 },
    });
  });

  it('keeps runs across a stop and a restart on the same directory in the same process', async () => {
    const directory = await tempDir();
    const first = await openStore(directory);
    await first.store.putRun(cappedRun);
    await first.embedded.stop();
    await first.embedded.stop();

    const second = await openStore(directory);
    expect(await second.store.latestRuns('chat-prod', 1)).toStrictEqual([cappedRun]);
  });
});

describe('startEmbeddedDynamo', () => {
  it('listens on loopback only', async () => {
    const embedded = await start(await tempDir());
    expect(embedded.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a directory already in use by a store in this process', async () => {
    const directory = await tempDir();
    const results = await Promise.allSettled([start(directory), start(directory)]);
    const rejected = results.filter((result) => result.status === 'rejected');
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    const error = (rejected[0] as PromiseRejectedResult).reason as unknown;
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toBe(
      `the store at ${directory} is in use by another ws-ceiling process; wait for it or pass --store <other dir>`,
    );
  });

  it('refuses a directory whose database another process holds', async () => {
    const directory = await tempDir();
    await holdLevelInAnotherProcess(path.join(directory, 'dynamodb'));
    const attempt = start(directory);
    await expect(attempt).rejects.toBeInstanceOf(StoreError);
    await expect(attempt).rejects.toThrow(`the store at ${directory} is in use`);
  });
});

describe('DynamoRunStore when DynamoDB is unreachable', () => {
  it('rejects with a StoreError naming the table and the operation', async () => {
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const store = new DynamoRunStore({ client, tableName: TABLE });
      const put = store.putRun(cappedRun);
      await expect(put).rejects.toBeInstanceOf(StoreError);
      await expect(put).rejects.toThrow(`cannot write run run-capped in DynamoDB table ${TABLE}`);
      await expect(store.latestRuns('chat-prod', 5)).rejects.toThrow(
        `cannot read the runs of target chat-prod in DynamoDB table ${TABLE}`,
      );
      await expect(store.recentRuns(5)).rejects.toThrow(`DynamoDB table ${TABLE}`);
    } finally {
      client.destroy();
    }
  });
});
