/**
 * Where a deployed run's shard results live between the worker step and the
 * record step. A shard's records are far too large for a Step Functions
 * payload (256 KB), so each worker writes its whole ShardResult to an object
 * store under a key derived from the target id, run id and shard index (the
 * target's prefix is all its worker may write to), and returns only that key.
 * Implemented on S3 by an adapter.
 */
import { targetShardResultsPrefix } from './deployment-names.js';
import type { ShardResult } from '../engine/types.js';

/** The run a shard result belongs to. */
export interface ShardResultOwner {
  targetId: string;
  runId: string;
}

/** The key of one shard's result: `runs/<targetId>/<runId>/shard-<n>.json`. */
export function shardResultKey(owner: ShardResultOwner, shard: number): string {
  return `${targetShardResultsPrefix(owner.targetId)}${owner.runId}/shard-${shard}.json`;
}

/** Shard results of deployed runs, by key. */
export interface ShardResultStore {
  /** Writes the shard's result under {@link shardResultKey} and returns that key (a rewrite replaces it). */
  putShardResult(owner: ShardResultOwner, result: ShardResult): Promise<string>;
  /** The result stored under `key`, or undefined when there is none. */
  getShardResult(key: string): Promise<ShardResult | undefined>;
}
