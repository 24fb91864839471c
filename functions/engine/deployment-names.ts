/**
 * Names of the deployed resources that the CDK stacks create and the CLI
 * looks up (`invoke`, `history --region`, `stop`, `pause`): one definition so
 * the two cannot disagree.
 */

/** The runs table of each region's stack. */
export const RUNS_TABLE_NAME = 'ws-ceiling-runs';

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
