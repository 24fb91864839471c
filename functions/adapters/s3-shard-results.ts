/**
 * Shard results on S3: each worker Lambda writes its whole ShardResult as one
 * JSON object to `runs/<targetId>/<runId>/shard-<n>.json` in the shard-results bucket,
 * and the record Lambda reads them back. The bucket's lifecycle rule (in the
 * CDK stack) expires these objects; the run item in DynamoDB is the record.
 */
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StoreError } from '../engine/errors.js';
import { shardResultKey, type ShardResultOwner, type ShardResultStore } from '../steps/shard-results.js';
import type { ShardResult } from '../engine/types.js';

/** How an {@link S3ShardResults} reaches its bucket. */
export interface S3ShardResultsOptions {
  client: S3Client;
  /** Name of the shard-results bucket. */
  bucket: string;
}

/** {@link ShardResultStore} on one S3 bucket. */
export class S3ShardResults implements ShardResultStore {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(options: S3ShardResultsOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
  }

  /** Writes the result as JSON and returns its key; a retried worker overwrites its own object. */
  async putShardResult(owner: ShardResultOwner, result: ShardResult): Promise<string> {
    const key = shardResultKey(owner, result.shard);
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: JSON.stringify(result),
          ContentType: 'application/json',
        }),
      );
      return key;
    } catch (error) {
      throw this.#storeError('write', key, error);
    }
  }

  /** The result under `key`, or undefined when the object does not exist. */
  async getShardResult(key: string): Promise<ShardResult | undefined> {
    try {
      const response = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      const text = await response.Body?.transformToString('utf-8');
      if (text === undefined) return undefined;
      return JSON.parse(text) as ShardResult;
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw this.#storeError('read', key, error);
    }
  }

  /** A {@link StoreError} naming the operation, bucket and key. */
  #storeError(operation: 'read' | 'write', key: string, cause: unknown): StoreError {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    return new StoreError(`cannot ${operation} shard result s3://${this.#bucket}/${key}: ${reason}`, { cause });
  }
}

/** True when S3 said the object does not exist. */
function isNoSuchKey(error: unknown): boolean {
  return error instanceof NoSuchKey || (error instanceof Error && error.name === 'NoSuchKey');
}
