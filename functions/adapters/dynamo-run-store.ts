/**
 * The run store on DynamoDB: one item per run under `pk = TARGET#<targetId>`,
 * `sk = RUN#<startedAt>#<runId>` (see docs/architecture.md "Data"). The item carries the
 * whole run as a map plus top-level copies of the fields people query or
 * alarm on, the partition key of the recent-runs index, and an `expiresAt`
 * TTL (key and attribute names from deployment-names.ts, which the table's
 * grants use too). The same adapter serves real DynamoDB in Lambda and the
 * embedded store of the CLI; the client is passed in.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ScanCommand,
  waitUntilTableExists,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { dynamoStoreError, isAwsError } from './dynamo-errors.js';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import {
  RECENT_RUNS_INDEX,
  RECENT_RUNS_PARTITION,
  runPartitionKey,
  RUNS_TABLE_TTL_ATTRIBUTE,
} from '../steps/deployment-names.js';
import type { PutRunOutcome, RunStore } from '../engine/run-store.js';
import { currentRunOf, type StoredRun } from '../engine/stored-run.js';
import type { RunResult } from '../engine/types.js';

/** Days a run item lives before DynamoDB's TTL removes it, unless told otherwise. */
const DEFAULT_TTL_DAYS = 400;
const SECONDS_PER_DAY = 86_400;
const MARSHALL_OPTIONS = { removeUndefinedValues: true, convertClassInstanceToMap: false } as const;
/** Reads fetch only the stored run, not the top-level copies. */
const RUN_PROJECTION = { ProjectionExpression: '#run', ExpressionAttributeNames: { '#run': 'run' } } as const;
/** How every run item's sort key begins; other items in the table (stop requests) do not. */
const RUN_SORT_KEY_PREFIX = 'RUN#';
/** Longest wait for a created table to become ACTIVE, in seconds. */
const TABLE_ACTIVE_TIMEOUT_SECONDS = 60;

/** A DynamoDB primary key as read or written. */
type ItemKey = Record<string, AttributeValue>;

/** One page of a Query or Scan. */
interface ItemPage {
  Items?: ItemKey[];
  LastEvaluatedKey?: ItemKey;
}

/** How a {@link DynamoRunStore} reaches its table. */
export interface DynamoRunStoreOptions {
  /** A client for real DynamoDB or the embedded store. */
  client: DynamoDBClient;
  tableName: string;
  /** Days until the TTL attribute `expiresAt` lets DynamoDB delete a run (default 400). */
  ttlDays?: number;
  /** Clock for `expiresAt` (default: the system clock). */
  now?: () => Date;
}

/** The primary key of a run's item: `pk = TARGET#<targetId>`, `sk = RUN#<startedAt>#<runId>`. */
export function runItemKey(run: Pick<RunResult, 'targetId' | 'startedAt' | 'runId'>): { pk: string; sk: string } {
  return { pk: runPartitionKey(run.targetId), sk: `${RUN_SORT_KEY_PREFIX}${run.startedAt}#${run.runId}` };
}

/** {@link RunStore} on a DynamoDB table keyed by `pk` (string) and `sk` (string). */
export class DynamoRunStore implements RunStore {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #ttlDays: number;
  readonly #now: () => Date;

  constructor(options: DynamoRunStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#ttlDays = options.ttlDays ?? DEFAULT_TTL_DAYS;
    this.#now = options.now ?? (() => new Date());
  }

  /** Writes the run once: a retried write of the same run returns `duplicate` and writes nothing. */
  async putRun(run: RunResult): Promise<PutRunOutcome> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: this.#toItem(run),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'written';
    } catch (error) {
      if (isAwsError(error, ConditionalCheckFailedException)) return 'duplicate';
      throw dynamoStoreError(`write run ${run.runId}`, this.#tableName, error);
    }
  }

  /** The newest `limit` runs of one target, newest first (a Query on its partition). */
  async latestRuns(targetId: string, limit: number): Promise<RunResult[]> {
    if (limit < 1) return [];
    return this.#attempt(`read the runs of target ${targetId}`, () =>
      collectRuns(
        (startKey, remaining) =>
          this.#client.send(
            new QueryCommand({
              TableName: this.#tableName,
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': { S: runPartitionKey(targetId) } },
              ScanIndexForward: false,
              Limit: remaining,
              ExclusiveStartKey: startKey,
              ...RUN_PROJECTION,
            }),
          ),
        limit,
      ),
    );
  }

  /**
   * The newest `limit` runs of every target, newest first: one Query on the
   * recent-runs index. A table without that index (a store made by an
   * earlier version) is scanned instead, skipping items that are not runs.
   * Runs written before the index existed are not in it; a target's own
   * runs ({@link latestRuns}) are always all there.
   */
  async recentRuns(limit: number): Promise<RunResult[]> {
    if (limit < 1) return [];
    try {
      return await collectRuns(
        (startKey, remaining) =>
          this.#client.send(
            new QueryCommand({
              TableName: this.#tableName,
              IndexName: RECENT_RUNS_INDEX.name,
              KeyConditionExpression: '#partition = :run',
              ExpressionAttributeNames: { '#partition': RECENT_RUNS_INDEX.partitionKey, '#run': 'run' },
              ExpressionAttributeValues: { ':run': { S: RECENT_RUNS_PARTITION } },
              ProjectionExpression: '#run',
              ScanIndexForward: false,
              Limit: remaining,
              ExclusiveStartKey: startKey,
            }),
          ),
        limit,
      );
    } catch (error) {
      if (!isMissingIndex(error)) throw dynamoStoreError('read the recent runs', this.#tableName, error);
    }
    return this.#scanRecentRuns(limit);
  }

  /** The newest `limit` runs of every target by a scan of the whole table, sorted in memory. */
  async #scanRecentRuns(limit: number): Promise<RunResult[]> {
    const runs = await this.#attempt('scan the recent runs', () =>
      collectRuns(
        (startKey) =>
          this.#client.send(
            new ScanCommand({
              TableName: this.#tableName,
              ExclusiveStartKey: startKey,
              // The table also holds other items (stop requests, run locks): only run items count.
              FilterExpression: 'begins_with(sk, :run)',
              ExpressionAttributeValues: { ':run': { S: RUN_SORT_KEY_PREFIX } },
              ...RUN_PROJECTION,
            }),
          ),
        Number.POSITIVE_INFINITY,
      ),
    );
    return runs.sort(newestFirst).slice(0, limit);
  }

  /**
   * Creates the table (`pk` HASH, `sk` RANGE, on demand, with the recent-runs
   * index) unless it exists and waits until it is ACTIVE. For the embedded store only: the deployed table
   * comes from the CDK stack.
   */
  async ensureTable(): Promise<void> {
    await this.#attempt('create the table', async () => {
      await this.#createTableUnlessExists();
      await waitUntilTableExists(
        { client: this.#client, maxWaitTime: TABLE_ACTIVE_TIMEOUT_SECONDS, minDelay: 1, maxDelay: 2 },
        { TableName: this.#tableName },
      );
    });
  }

  /** Sends CreateTable; an existing table (ResourceInUseException) is fine. */
  async #createTableUnlessExists(): Promise<void> {
    try {
      await this.#client.send(
        new CreateTableCommand({
          TableName: this.#tableName,
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
            { AttributeName: RECENT_RUNS_INDEX.partitionKey, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: RECENT_RUNS_INDEX.name,
              KeySchema: [
                { AttributeName: RECENT_RUNS_INDEX.partitionKey, KeyType: 'HASH' },
                { AttributeName: RECENT_RUNS_INDEX.sortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['run'] },
            },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } catch (error) {
      if (!isAwsError(error, ResourceInUseException)) throw error;
    }
  }

  /** The item of a run: key, top-level query/alarm attributes, TTL and the whole run. */
  #toItem(run: RunResult): ItemKey {
    return marshall(
      {
        ...runItemKey(run),
        [RECENT_RUNS_INDEX.partitionKey]: RECENT_RUNS_PARTITION,
        runId: run.runId,
        targetId: run.targetId,
        region: run.region,
        startedAt: run.startedAt,
        verdict: run.verdict,
        ceiling: run.ceiling.value ?? undefined,
        ceilingReached: run.ceiling.reached,
        dropOnset: run.dropOnset ?? undefined,
        limitingFactor: run.limitingFactor?.kind,
        configHash: run.configHash,
        probeVersion: run.probeVersion,
        [RUNS_TABLE_TTL_ATTRIBUTE]: Math.floor(this.#now().getTime() / 1000) + this.#ttlDays * SECONDS_PER_DAY,
        run,
      },
      MARSHALL_OPTIONS,
    );
  }

  /** Runs a store operation, turning any failure into a {@link StoreError}. */
  async #attempt<T>(operation: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw dynamoStoreError(operation, this.#tableName, error);
    }
  }
}

/**
 * Follows `LastEvaluatedKey` until `limit` runs are read or there are no more
 * pages; `fetchPage` gets the start key and how many runs are still wanted.
 */
async function collectRuns(
  fetchPage: (startKey: ItemKey | undefined, remaining: number) => Promise<ItemPage>,
  limit: number,
): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  let startKey: ItemKey | undefined;
  do {
    const page = await fetchPage(startKey, limit - runs.length);
    runs.push(...(page.Items ?? []).map(runOf));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined && runs.length < limit);
  return runs;
}

/** The run stored in an item's `run` map, by whichever version wrote it. */
function runOf(item: ItemKey): RunResult {
  return currentRunOf(unmarshall(item).run as StoredRun);
}

/** Orders runs by `startedAt`, newest first (ISO-8601 strings sort as text). */
function newestFirst(a: RunResult, b: RunResult): number {
  if (a.startedAt === b.startedAt) return 0;
  return a.startedAt < b.startedAt ? 1 : -1;
}

/** True when DynamoDB says the table has no such index (a table made before the index existed). */
function isMissingIndex(error: unknown): boolean {
  return error instanceof Error && /specified index|index.*(not|does not) exist/i.test(error.message);
}
