/**
 * Names of the deployed resources and of the keys inside them, shared by the
 * CDK stacks (which create the resources and scope each role's grants to
 * these keys), the adapters (which read and write them) and the CLI (which
 * looks the resources up for `invoke`, `history --region`, `stop`, `pause`):
 * one definition so they cannot disagree.
 */

/** The runs table of each region's stack. */
export const RUNS_TABLE_NAME = 'ws-ceiling-runs';

/** Attribute of a runs table item holding its expiry (epoch seconds) for DynamoDB's TTL. */
export const RUNS_TABLE_TTL_ATTRIBUTE = 'expiresAt';

/** How the partition key of every run item begins: `TARGET#<targetId>`. */
export const RUN_PARTITION_PREFIX = 'TARGET#';

/** How the partition key of every stop request begins: `STOP#<targetId>`. */
const STOP_REQUEST_PARTITION_PREFIX = 'STOP#';

/** Partition key of a target's runs. */
export function runPartitionKey(targetId: string): string {
  return `${RUN_PARTITION_PREFIX}${targetId}`;
}

/** Partition key of a target's stop request. */
export function stopRequestPartitionKey(targetId: string): string {
  return `${STOP_REQUEST_PARTITION_PREFIX}${targetId}`;
}

/** Key prefix of every shard result in the shard-results bucket. */
export const SHARD_RESULTS_PREFIX = 'runs/';

/** Key prefix of one target's shard results, `runs/<targetId>/`: its worker may write only under it. */
export function targetShardResultsPrefix(targetId: string): string {
  return `${SHARD_RESULTS_PREFIX}${targetId}/`;
}

/** EventBridge Scheduler group holding every target's schedule in a region. */
export const SCHEDULE_GROUP_NAME = 'ws-ceiling';

/** CloudFormation stack name of a region. */
export function stackName(region: string): string {
  return `ws-ceiling-${region}`;
}

/** Step Functions state machine of one target (one per target per region). */
export function stateMachineName(targetId: string): string {
  return `ws-ceiling-${targetId}`;
}

/** EventBridge Scheduler schedule of one target. */
export function scheduleName(targetId: string): string {
  return `ws-ceiling-${targetId}`;
}
