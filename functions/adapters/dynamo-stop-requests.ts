/**
 * The kill switch on the runs table: `ws-ceiling stop` writes one item per
 * target, `pk = STOP#<targetId>`, `sk = STOP`, holding when the stop was
 * asked (`requestedAt`, epoch milliseconds) and a one-day `expiresAt` TTL.
 * Every worker of a run polls it with one GetItem (its role may only read)
 * and stops when the request is newer than its run's plan. The same table
 * holds the runs (`sk` beginning with `RUN#`), so run reads skip these items.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { dynamoStoreError, isAwsError } from './dynamo-errors.js';
import { RUNS_TABLE_TTL_ATTRIBUTE, stopRequestPartitionKey } from '../steps/deployment-names.js';
import type { StopRequests } from '../steps/stop-requests.js';

/** How long a stop request item lives before DynamoDB's TTL removes it: no run lasts longer. */
const STOP_REQUEST_TTL_SECONDS = 86_400;

/** How a {@link DynamoStopRequests} reaches the runs table. */
export interface DynamoStopRequestsOptions {
  /** A client for real DynamoDB or the embedded store. */
  client: DynamoDBClient;
  tableName: string;
}

/** The primary key of a target's stop request item. */
export function stopRequestKey(targetId: string): { pk: { S: string }; sk: { S: string } } {
  return { pk: { S: stopRequestPartitionKey(targetId) }, sk: { S: 'STOP' } };
}

/** {@link StopRequests} on the runs table. */
export class DynamoStopRequests implements StopRequests {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;

  constructor(options: DynamoStopRequestsOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /**
   * Records a stop request for `targetId` at `at`. A later request replaces
   * an earlier one; an earlier one never replaces a later one.
   */
  async requestStop(targetId: string, at: Date): Promise<void> {
    const requestedAt = at.getTime();
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: {
            ...stopRequestKey(targetId),
            targetId: { S: targetId },
            requestedAt: { N: String(requestedAt) },
            [RUNS_TABLE_TTL_ATTRIBUTE]: { N: String(Math.floor(requestedAt / 1000) + STOP_REQUEST_TTL_SECONDS) },
          },
          ConditionExpression: 'attribute_not_exists(pk) OR requestedAt < :requestedAt',
          ExpressionAttributeValues: { ':requestedAt': { N: String(requestedAt) } },
        }),
      );
    } catch (error) {
      if (isAwsError(error, ConditionalCheckFailedException)) return; // a newer request is stored
      throw dynamoStoreError(`record a stop request for target ${targetId}`, this.#tableName, error);
    }
  }

  /** True when a stop was requested for `targetId` at or after `plannedAt` (one strongly consistent GetItem). */
  async stopRequestedSince(targetId: string, plannedAt: number): Promise<boolean> {
    try {
      const { Item } = await this.#client.send(
        new GetItemCommand({
          TableName: this.#tableName,
          Key: stopRequestKey(targetId),
          ConsistentRead: true,
          ProjectionExpression: 'requestedAt',
        }),
      );
      const requestedAt = Item?.requestedAt?.N;
      return requestedAt !== undefined && Number(requestedAt) >= plannedAt;
    } catch (error) {
      throw dynamoStoreError(`read the stop request of target ${targetId}`, this.#tableName, error);
    }
  }
}
