/**
 * The run locks on the runs table: one item per target, `pk = LOCK#<targetId>`,
 * `sk = LOCK`, holding the run that took it and until when. The plan step
 * takes it with one conditional PutItem (no item, an expired one, or its own
 * run's); the record step and the state machine's failure path delete it
 * only if their run holds it. Its `expiresAt` TTL removes the item a day
 * after it expired, but the lock is free from `until` on, whatever DynamoDB's
 * TTL does (that can take days).
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { dynamoStoreError, isAwsError } from './dynamo-errors.js';
import { RUN_LOCK_SORT_KEY, runLockPartitionKey, RUNS_TABLE_TTL_ATTRIBUTE } from '../steps/deployment-names.js';
import type { RunLockAttempt, RunLockHolder, RunLocks } from '../steps/run-locks.js';

/** Seconds after its expiry at which DynamoDB's TTL may remove a lock item. */
const LOCK_ITEM_TTL_SECONDS = 86_400;

/** How a {@link DynamoRunLocks} reaches the runs table. */
export interface DynamoRunLocksOptions {
  /** A client for real DynamoDB or the embedded store. */
  client: DynamoDBClient;
  tableName: string;
}

/** The primary key of a target's lock item. */
export function runLockKey(targetId: string): { pk: { S: string }; sk: { S: string } } {
  return { pk: { S: runLockPartitionKey(targetId) }, sk: { S: RUN_LOCK_SORT_KEY } };
}

/** {@link RunLocks} on the runs table. */
export class DynamoRunLocks implements RunLocks {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(options: DynamoRunLocksOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /**
   * Writes the lock for `holder` unless an unexpired lock of another run is
   * there (one conditional PutItem); when one is, reads it back (strongly
   * consistent) to say who holds it. A lock released between the two is
   * tried once more.
   */
  async acquire(targetId: string, holder: RunLockHolder): Promise<RunLockAttempt> {
    for (let attempt = 1; ; attempt += 1) {
      if (await this.#put(targetId, holder)) return { acquired: true };
      const current = await this.holder(targetId);
      if (current) return { acquired: false, holder: current };
      if (attempt >= 2)
        return { acquired: false, holder: { runId: 'unknown', since: holder.since, until: holder.since } };
    }
  }

  /** Deletes the lock if `runId` holds it; false when it does not (another run's, expired and taken, or gone). */
  async release(targetId: string, runId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#tableName,
          Key: runLockKey(targetId),
          ConditionExpression: 'runId = :runId',
          ExpressionAttributeValues: { ':runId': { S: runId } },
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, ConditionalCheckFailedException)) return false;
      throw dynamoStoreError(`release the run lock of target ${targetId}`, this.#tableName, error);
    }
  }

  /** The conditional PutItem of the lock; false when another run's unexpired lock is there. */
  async #put(targetId: string, holder: RunLockHolder): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: {
            ...runLockKey(targetId),
            targetId: { S: targetId },
            runId: { S: holder.runId },
            since: { N: String(holder.since) },
            until: { N: String(holder.until) },
            [RUNS_TABLE_TTL_ATTRIBUTE]: { N: String(Math.ceil(holder.until / 1000) + LOCK_ITEM_TTL_SECONDS) },
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #until <= :now OR runId = :runId',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': { N: String(holder.since) }, ':runId': { S: holder.runId } },
        }),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, ConditionalCheckFailedException)) return false;
      throw dynamoStoreError(`take the run lock of target ${targetId}`, this.#tableName, error);
    }
  }

  /** Who holds the lock now, or undefined when there is no lock item. */
  async holder(targetId: string): Promise<RunLockHolder | undefined> {
    try {
      const { Item } = await this.#client.send(
        new GetItemCommand({ TableName: this.#tableName, Key: runLockKey(targetId), ConsistentRead: true }),
      );
      if (Item?.runId?.S === undefined || Item.since?.N === undefined || Item.until?.N === undefined) return undefined;
      return { runId: Item.runId.S, since: Number(Item.since.N), until: Number(Item.until.N) };
    } catch (error) {
      throw dynamoStoreError(`read the run lock of target ${targetId}`, this.#tableName, error);
    }
  }
}
