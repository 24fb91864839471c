/**
 * What the commands against a deployed region share: their collaborators
 * (the region's SDK clients, a clock and a sleep, injected by tests), the
 * `--target-id`/`--region`/`--regions`/`--deployment` checks, and the lookups
 * every one of them starts with. AWS failures become errors that name what
 * was attempted and where.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import {
  createDeployedClients,
  destroyDeployedClients,
  type DeployedClients,
  type DeployedClientsFactory,
} from '../../functions/adapters/deployed-clients.js';
import type { ProbeExecutions } from '../../functions/adapters/probe-executions.js';
import { DEPLOYMENT_NAME_PATTERN, resourceNames, type ResourceNames } from '../../functions/config/resource-names.js';
import { AWS_REGION_PATTERN, TARGET_ID_PATTERN } from '../../functions/config/target-config.js';
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

/** `--target-id`, `--region` and `--deployment` as commander hands them over. */
export interface DeployedTargetFlags {
  targetId: string;
  region: string;
  /** The config's `name` of a named deployment. */
  deployment?: string;
}

/** The checked flags of a command against one deployed target, with the deployment's resource names. */
export interface DeployedTarget {
  targetId: string;
  region: string;
  names: ResourceNames;
}

/** Checks `--target-id`, `--region` and `--deployment`; throws InvalidInputError naming the flag. */
export function parseDeployedTarget(flags: DeployedTargetFlags): DeployedTarget {
  return {
    targetId: parseTargetId(flags.targetId),
    region: parseRegion(flags.region),
    names: parseDeployment(flags.deployment),
  };
}

/** `--deployment <name>`: the config's `name` of the deployment the command works on. */
export function deploymentOption(): Option {
  return new Option(
    '--deployment <name>',
    "the config's name of a named deployment (its resources are called ws-ceiling-<name>-…)",
  );
}

/** Adds `--deployment` to a command against a deployment. */
export function withDeploymentOption(command: Command): Command {
  return command.addOption(deploymentOption());
}

/** The resource names of `--deployment` (an unnamed deployment's without it); throws InvalidInputError naming it. */
export function parseDeployment(deployment: string | undefined): ResourceNames {
  if (deployment !== undefined && !DEPLOYMENT_NAME_PATTERN.test(deployment)) {
    throw new InvalidInputError(
      '--deployment',
      `must be the config's name: 1 to 16 lower-case letters and digits starting with a letter, got "${deployment}"`,
    );
  }
  return resourceNames(deployment);
}

/** ` --deployment NAME` for a command to run next, or nothing for an unnamed deployment. */
export function deploymentFlag(names: ResourceNames): string {
  return names.deployment === undefined ? '' : ` --deployment ${names.deployment}`;
}

/** Checks `--regions a,b`: AWS region names, at least one, each once; throws InvalidInputError naming the flag. */
export function parseRegions(regions: string): string[] {
  const list = regions
    .split(',')
    .map((region) => region.trim())
    .filter((region) => region.length > 0);
  const bad = list.find((region) => !AWS_REGION_PATTERN.test(region));
  if (list.length === 0 || bad !== undefined) {
    throw new InvalidInputError(
      '--regions',
      `must be AWS region names separated by commas, such as eu-west-1,us-east-1, got "${regions}"`,
    );
  }
  return [...new Set(list)];
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
export async function findStateMachine(executions: ProbeExecutions, target: DeployedTarget): Promise<string> {
  const { targetId, region, names } = target;
  const name = names.stateMachine(targetId);
  const arn = await awsCall(`look up the state machine ${name}`, region, () => executions.stateMachineArn(name));
  if (arn === undefined) {
    throw new WsCeilingError(
      `target ${targetId} is not deployed in ${region}: there is no state machine ${name}. ` +
        (names.deployment === undefined
          ? "Check --target-id and --region against the config's targets and regions"
          : "Check --target-id, --region and --deployment against the config's targets, regions and name") +
        `, and deploy the stack ${names.stack(region)}.`,
      EXIT_CODES.probeFailed,
    );
  }
  return arn;
}
