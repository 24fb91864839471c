/**
 * Names of the keys inside the deployed resources: the runs table's
 * partitions (runs, stop requests, run locks), its index of recent runs, and
 * the prefixes of the bucket, shared by the CDK stacks (which scope each
 * role's grants to these keys), the adapters (which read and write them) and
 * the CLI: one definition so they cannot disagree. The resources' own names
 * are in functions/config/resource-names.ts.
 */

/** Attribute of a runs table item holding its expiry (epoch seconds) for DynamoDB's TTL. */
export const RUNS_TABLE_TTL_ATTRIBUTE = 'expiresAt';

/** How the partition key of every run item begins: `TARGET#<targetId>`. */
export const RUN_PARTITION_PREFIX = 'TARGET#';

/** How the partition key of every stop request begins: `STOP#<targetId>`. */
const STOP_REQUEST_PARTITION_PREFIX = 'STOP#';

/** How the partition key of every run lock begins: `LOCK#<targetId>`. */
export const RUN_LOCK_PARTITION_PREFIX = 'LOCK#';

/** Sort key of a target's run lock item (one per target). */
export const RUN_LOCK_SORT_KEY = 'LOCK';

/**
 * The runs table's index of every target's runs by start time: its partition
 * key attribute holds {@link RECENT_RUNS_PARTITION} on run items only, and its
 * sort key is the item's `sk` (`RUN#<startedAt>#<runId>`), so one Query reads
 * the newest runs of every target.
 */
export const RECENT_RUNS_INDEX = { name: 'recent-runs', partitionKey: 'runsIndexPk', sortKey: 'sk' } as const;

/** The one partition of {@link RECENT_RUNS_INDEX}: every run item carries it. */
export const RECENT_RUNS_PARTITION = 'RUN';

/** Partition key of a target's runs. */
export function runPartitionKey(targetId: string): string {
  return `${RUN_PARTITION_PREFIX}${targetId}`;
}

/** Partition key of a target's stop request. */
export function stopRequestPartitionKey(targetId: string): string {
  return `${STOP_REQUEST_PARTITION_PREFIX}${targetId}`;
}

/** Partition key of a target's run lock. */
export function runLockPartitionKey(targetId: string): string {
  return `${RUN_LOCK_PARTITION_PREFIX}${targetId}`;
}

/** Key prefix of every shard result in the shard-results bucket. */
export const SHARD_RESULTS_PREFIX = 'runs/';

/** Key prefix of one target's shard results, `runs/<targetId>/`: its worker may write only under it. */
export function targetShardResultsPrefix(targetId: string): string {
  return `${SHARD_RESULTS_PREFIX}${targetId}/`;
}

/** Key prefix of every run's HTML report in the same bucket (a lifecycle rule of its own). */
export const REPORTS_PREFIX = 'reports/';

/** The key of a run's HTML report: `reports/<targetId>/<runId>.html`. */
export function reportKey(targetId: string, runId: string): string {
  return `${REPORTS_PREFIX}${targetId}/${runId}.html`;
}
