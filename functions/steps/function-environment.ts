/**
 * The environment variables of the deployed functions: their names, which
 * function gets which, and how a handler reads them. The CDK constructs write
 * these variables with the `…Variables` functions and the handlers read them
 * with the `read…Environment` functions, so the two sides share one
 * definition. The stack sets them; nothing here reads `process.env` itself.
 */
import { InvalidInputError } from '../engine/errors.js';

/** Names of the environment variables the stack sets on the probe functions. */
export const FUNCTION_ENVIRONMENT = {
  /** Comma-separated hosts a target URL may point at (the stack's allowlist). */
  allowedHosts: 'ALLOWED_HOSTS',
  /** Name of the S3 bucket that holds every shard's full result (`runs/<targetId>/<runId>/shard-<n>.json`). */
  shardResultsBucket: 'SHARD_RESULTS_BUCKET',
  /** Name of the runs table (run items, stop requests and run locks). */
  runsTable: 'RUNS_TABLE',
  /** ARN of the region's on-call topic, where the record step sends its messages. */
  alertTopicArn: 'ALERT_TOPIC_ARN',
  /** The deployment's name (the config's `name`), when it has one: the commands in messages name it. */
  deploymentName: 'DEPLOYMENT_NAME',
} as const;

/** What the plan function is given. */
export interface PlanEnvironment {
  allowedHosts: string[];
  /** For the targets' run locks. */
  runsTable: string;
}

/** What each worker function is given. */
export interface WorkerEnvironment {
  allowedHosts: string[];
  shardResultsBucket: string;
  /** Read only, for stop requests. */
  runsTable: string;
}

/** What the record function is given. */
export interface RecordEnvironment {
  /** Shard results are read from it, and reports written to it. */
  shardResultsBucket: string;
  runsTable: string;
  alertTopicArn: string;
  deploymentName?: string;
}

/** The variables of a plan function. */
export function planVariables(environment: PlanEnvironment): Record<string, string> {
  return {
    [FUNCTION_ENVIRONMENT.allowedHosts]: environment.allowedHosts.join(','),
    [FUNCTION_ENVIRONMENT.runsTable]: environment.runsTable,
  };
}

/** The variables of a worker function. */
export function workerVariables(environment: WorkerEnvironment): Record<string, string> {
  return {
    [FUNCTION_ENVIRONMENT.allowedHosts]: environment.allowedHosts.join(','),
    [FUNCTION_ENVIRONMENT.shardResultsBucket]: environment.shardResultsBucket,
    [FUNCTION_ENVIRONMENT.runsTable]: environment.runsTable,
  };
}

/** The variables of a record function. */
export function recordVariables(environment: RecordEnvironment): Record<string, string> {
  return {
    [FUNCTION_ENVIRONMENT.shardResultsBucket]: environment.shardResultsBucket,
    [FUNCTION_ENVIRONMENT.runsTable]: environment.runsTable,
    [FUNCTION_ENVIRONMENT.alertTopicArn]: environment.alertTopicArn,
    ...(environment.deploymentName !== undefined
      ? { [FUNCTION_ENVIRONMENT.deploymentName]: environment.deploymentName }
      : {}),
  };
}

/** Variables as a handler sees them (`process.env`). */
export type VariableSource = Record<string, string | undefined>;

/** Reads the plan function's variables; throws naming the first one missing. */
export function readPlanEnvironment(source: VariableSource): PlanEnvironment {
  return { allowedHosts: readHosts(source), runsTable: readVariable(source, FUNCTION_ENVIRONMENT.runsTable) };
}

/** Reads a worker function's variables; throws naming the first one missing. */
export function readWorkerEnvironment(source: VariableSource): WorkerEnvironment {
  return {
    allowedHosts: readHosts(source),
    shardResultsBucket: readVariable(source, FUNCTION_ENVIRONMENT.shardResultsBucket),
    runsTable: readVariable(source, FUNCTION_ENVIRONMENT.runsTable),
  };
}

/** Reads the record function's variables; throws naming the first one missing. */
export function readRecordEnvironment(source: VariableSource): RecordEnvironment {
  const deploymentName = source[FUNCTION_ENVIRONMENT.deploymentName]?.trim();
  return {
    shardResultsBucket: readVariable(source, FUNCTION_ENVIRONMENT.shardResultsBucket),
    runsTable: readVariable(source, FUNCTION_ENVIRONMENT.runsTable),
    alertTopicArn: readVariable(source, FUNCTION_ENVIRONMENT.alertTopicArn),
    ...(deploymentName ? { deploymentName } : {}),
  };
}

function readHosts(source: VariableSource): string[] {
  const hosts = readVariable(source, FUNCTION_ENVIRONMENT.allowedHosts)
    .split(',')
    .map((host) => host.trim())
    .filter((host) => host.length > 0);
  if (hosts.length === 0) {
    throw new InvalidInputError(FUNCTION_ENVIRONMENT.allowedHosts, 'must list at least one host, separated by commas');
  }
  return hosts;
}

function readVariable(source: VariableSource, name: string): string {
  const value = source[name]?.trim();
  if (!value) throw new InvalidInputError(name, 'environment variable is not set (the stack sets it on the function)');
  return value;
}
