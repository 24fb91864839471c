/**
 * The physical names of a deployment's resources: stacks, runs table,
 * schedule group, state machines, schedules, their log groups, dashboards
 * and alarms. The CDK stacks create them under these names, the CLI finds
 * them by these names, and the config check refuses a name AWS would not
 * accept. A config's top-level `name` (e.g. `staging`) goes after the
 * `ws-ceiling` root of every name, so two deployments share no name in one
 * account and region; without it the names are those of a single deployment
 * (`ws-ceiling-runs`, `ws-ceiling-<target id>`, …). Resources CloudFormation
 * names itself (functions, their log groups, the bucket, the topic, queues,
 * roles) start with the stack's name, which carries the deployment's name too.
 */

/** The root of every name. */
const NAME_ROOT = 'ws-ceiling';

/**
 * A deployment name: letters and digits only, so that two deployments' names
 * (`ws-ceiling-<name>-<target id>`) can never run into each other.
 */
export const DEPLOYMENT_NAME_PATTERN = /^[a-z][a-z0-9]{0,15}$/;

/** The alarms of a target. */
export type AlarmKind =
  | 'regressed'
  | 'below-floor'
  | 'probe-failed'
  | 'probe-missing'
  | 'execution-failed'
  | 'execution-timed-out'
  | 'execution-aborted'
  | 'worker-errors'
  | 'worker-throttles'
  | 'schedule-dead-letters';

/** Every physical name of one deployment. */
export interface ResourceNames {
  /** The config's `name`, when it has one. */
  deployment?: string;
  /** `ws-ceiling` or `ws-ceiling-<name>`: how every name begins. */
  prefix: string;
  /** CloudFormation stack of a region. */
  stack(region: string): string;
  /** The runs table of each region's stack. */
  runsTable: string;
  /** EventBridge Scheduler group holding every target's schedule in a region. */
  scheduleGroup: string;
  /** Step Functions state machine of one target (one per target per region). */
  stateMachine(targetId: string): string;
  /** The log group of a target's state machine. */
  stateMachineLogGroup(targetId: string): string;
  /** EventBridge Scheduler schedule of one target. */
  schedule(targetId: string): string;
  /** CloudWatch dashboard of a region. */
  dashboard(region: string): string;
  /** CloudWatch alarm of a target, e.g. `ws-ceiling-chat-regressed`. */
  alarm(targetId: string, kind: AlarmKind): string;
  /** How every alarm name of the deployment begins (the topic lets CloudWatch publish for these only). */
  alarmPrefix: string;
}

/** The names of the deployment called `deployment` (the config's `name`), or of an unnamed one. */
export function resourceNames(deployment?: string): ResourceNames {
  const prefix = deployment === undefined ? NAME_ROOT : `${NAME_ROOT}-${deployment}`;
  return {
    ...(deployment !== undefined ? { deployment } : {}),
    prefix,
    stack: (region) => `${prefix}-${region}`,
    runsTable: `${prefix}-runs`,
    scheduleGroup: prefix,
    stateMachine: (targetId) => `${prefix}-${targetId}`,
    stateMachineLogGroup: (targetId) => `/aws/vendedlogs/states/${prefix}-${targetId}`,
    schedule: (targetId) => `${prefix}-${targetId}`,
    dashboard: (region) => `${prefix}-${region}`,
    alarm: (targetId, kind) => `${prefix}-${targetId}-${kind}`,
    alarmPrefix: `${prefix}-`,
  };
}
