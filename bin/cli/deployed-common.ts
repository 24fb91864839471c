/**
 * What the commands against a deployed region share: their collaborators
 * (the region's SDK clients, a clock and a sleep, injected by tests), the
 * `--target-id`/`--region` checks, and the lookups every one of them starts
 * with. AWS failures become errors that name what was attempted and where.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  createDeployedClients,
  destroyDeployedClients,
  type DeployedClients,
  type DeployedClientsFactory,
} from '../../functions/adapters/deployed-clients.js';
import type { ProbeExecutions } from '../../functions/adapters/probe-executions.js';
import { AWS_REGION_PATTERN, TARGET_ID_PATTERN } from '../../functions/config/target-config.js';
import { stackName, stateMachineName } from '../../functions/steps/deployment-names.js';
import { InvalidInputError, WsCeilingError } from '../../functions/engine/errors.js';
import { EXIT_CODES } from './exit-codes.js';

/** Where a command writes: answers to `stdout`, notes and progress to `stderr`. */
export interface TextIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** The collaborators of the deployed commands. */
export interface DeployedDeps {
  /** Makes the SDK clients of a region (tests pass mocked ones). */
  clientsFor: DeployedClientsFactory;
  sleep: (milliseconds: number) => Promise<void>;
  now: () => Date;
}

/** The real clients, clock and sleep. */
export const DEFAULT_DEPLOYED_DEPS: DeployedDeps = {
  clientsFor: createDeployedClients,
  sleep: (milliseconds) => delay(milliseconds),
  now: () => new Date(),
};

/** `--target-id` and `--region` as commander hands them over. */
export interface DeployedTargetFlags {
  targetId: string;
  region: string;
}

/** Checks `--target-id` and `--region`; throws InvalidInputError naming the flag. */
export function parseDeployedTarget(flags: DeployedTargetFlags): DeployedTargetFlags {
  return { targetId: parseTargetId(flags.targetId), region: parseRegion(flags.region) };
}

/** Checks `--target-id`; throws InvalidInputError naming the flag. */
export function parseTargetId(targetId: string): string {
  if (!TARGET_ID_PATTERN.test(targetId)) {
    throw new InvalidInputError(
      '--target-id',
      `must be a target id of the config (lower-case letters, digits or "-", e.g. chat), got "${targetId}"`,
    );
  }
  return targetId;
}

/** Checks `--region`; throws InvalidInputError naming the flag. */
export function parseRegion(region: string): string {
  if (!AWS_REGION_PATTERN.test(region))
    throw new InvalidInputError('--region', `must be an AWS region name such as eu-west-1, got "${region}"`);
  return region;
}

/** Runs `action` with the clients of `region`, releasing them afterwards. */
export async function withClients<T>(
  region: string,
  deps: Pick<DeployedDeps, 'clientsFor'>,
  action: (clients: DeployedClients) => Promise<T>,
): Promise<T> {
  const clients = deps.clientsFor(region);
  try {
    return await action(clients);
  } finally {
    destroyDeployedClients(clients);
  }
}

/**
 * Runs one AWS call; a failure that is not already a ws-ceiling error
 * becomes one (exit 3) saying what was attempted, where, and the AWS error.
 */
export async function awsCall<T>(attempt: string, region: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof WsCeilingError) throw error;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new WsCeilingError(`cannot ${attempt} in ${region} (${reason})`, EXIT_CODES.probeFailed, { cause: error });
  }
}

/** The ARN of the target's state machine; exit 3 naming the target and region when it is not deployed there. */
export async function findStateMachine(executions: ProbeExecutions, targetId: string, region: string): Promise<string> {
  const name = stateMachineName(targetId);
  const arn = await awsCall(`look up the state machine ${name}`, region, () => executions.stateMachineArn(name));
  if (arn === undefined) {
    throw new WsCeilingError(
      `target ${targetId} is not deployed in ${region}: there is no state machine ${name}. ` +
        "Check --target-id and --region against the config's targets and regions, and deploy the stack " +
        `${stackName(region)}.`,
      EXIT_CODES.probeFailed,
    );
  }
  return arn;
}
