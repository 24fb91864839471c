/**
 * The kill switch of a deployed target. `ws-ceiling stop` stops a run in
 * progress: it records a stop request in the runs table, which every worker
 * polls (they stop opening, close with 1000 and return; the request is
 * stamped late enough for runs in progress whatever the caller's clock
 * says), so the run still reaches its record step and is kept as
 * `inconclusive`. With no run in progress it writes nothing: a request
 * stamped by a clock ahead of AWS's would also stop the next scheduled run. `--force` also stops
 * the RUNNING executions of the target's state machine, for a run whose
 * workers do not answer; such a run is not recorded. StopExecution alone
 * would not do: Step Functions cannot end a Lambda invocation already
 * running, so without the stop request the workers would keep their
 * connections open until their plan or timeout ends. `ws-ceiling
 * pause|resume` disable or enable the target's schedule.
 */
import type { Command } from 'commander';
import { DynamoStopRequests } from '../../functions/adapters/dynamo-stop-requests.js';
import { ProbeExecutions, type RunningExecution } from '../../functions/adapters/probe-executions.js';
import { PLAN_TIMEOUT_SECONDS } from '../../functions/config/run-budget.js';
import { ProbeSchedules } from '../../functions/adapters/probe-schedules.js';
import { WsCeilingError } from '../../functions/engine/errors.js';
import {
  awsCall,
  DEFAULT_DEPLOYED_DEPS,
  deploymentFlag,
  findStateMachine,
  parseDeployedTarget,
  withClients,
  withDeploymentOption,
  type DeployedDeps,
  type DeployedTargetFlags,
  type TextIo,
} from './deployed-common.js';
import type { CliContext } from './cli-context.js';
import { EXIT_CODES } from './exit-codes.js';
import { addDeployedTargetOptions } from './shared-options.js';

/** Flags of `ws-ceiling stop`. */
export interface StopFlags extends DeployedTargetFlags {
  /** Also stop the running executions at once (the run is then not recorded). */
  force?: boolean;
}

/** Declares `ws-ceiling stop`, `pause` and `resume` on `program`. */
export function registerKillSwitch(program: Command, { io, setExitCode }: CliContext): void {
  withDeploymentOption(
    addDeployedTargetOptions(
      program
        .command('stop')
        .description(
          'Kill switch: every worker of a run of the target in progress stops opening, closes with 1000 and ' +
            'returns; the run is recorded as inconclusive.',
        ),
    ),
  )
    .option('--force', 'also stop the running executions at once (the run is then not recorded)')
    .action(async (flags: StopFlags) => setExitCode(await stopCommand(flags, io)));
  const scheduleCommands = [
    ['pause', 'Disable the schedule of a deployed target (a run in progress goes on; see stop).', pauseCommand],
    ['resume', 'Enable the schedule of a deployed target again.', resumeCommand],
  ] as const;
  for (const [name, description, command] of scheduleCommands) {
    withDeploymentOption(addDeployedTargetOptions(program.command(name).description(description))).action(
      async (flags: DeployedTargetFlags) => setExitCode(await command(flags, io)),
    );
  }
}

/** Stops every run of the target in progress in the region; returns the exit code. */
export async function stopCommand(
  flags: StopFlags,
  io: TextIo,
  deps: DeployedDeps = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  const deployed = parseDeployedTarget(flags);
  const { targetId, region, names } = deployed;
  return withClients(region, deps, async (clients) => {
    const executions = new ProbeExecutions({ client: clients.sfn });
    const stateMachineArn = await findStateMachine(executions, deployed);
    const listed = await awsCall(`list the running executions of ${targetId}`, region, () =>
      executions.runningExecutions(stateMachineArn),
    );
    if (listed.length === 0) {
      io.stdout.write(
        `No run of ${targetId} is in progress in ${region}: there is nothing to stop, and no stop request was ` +
          'written, so the next scheduled run starts as usual. ' +
          `To keep the target from running: ws-ceiling pause --target-id ${targetId} --region ${region}` +
          `${deploymentFlag(names)}.\n`,
      );
      return EXIT_CODES.completed;
    }
    const executionsRunning = await Promise.all(
      listed.map(async (execution) => ({
        ...execution,
        startOffsetSeconds: await awsCall(`read the execution ${execution.arn}`, region, () =>
          executions.startOffsetSeconds(execution.arn),
        ),
      })),
    );
    const at = stopRequestTime(deps.now(), executionsRunning);
    await new DynamoStopRequests({ client: clients.dynamo, tableName: names.runsTable }).requestStop(targetId, at);
    io.stdout.write(
      `Stop requested for ${targetId} in ${region} at ${at.toISOString()}: the workers of every run planned ` +
        'before it stop opening, ' +
        `close their connections with 1000 and return.\n`,
    );
    const running = executionsRunning.map((execution) => execution.arn);
    if (flags.force) await stopExecutions(executions, running, at, region);
    io.stdout.write(flags.force ? describeStopped(running) : describeRecording(running));
    return EXIT_CODES.completed;
  });
}

/** Stops each execution at once (`--force`): Step Functions ends it without the record step. */
async function stopExecutions(executions: ProbeExecutions, arns: string[], at: Date, region: string): Promise<void> {
  for (const executionArn of arns) {
    await awsCall(`stop the execution ${executionArn}`, region, () =>
      executions.stop(executionArn, `ws-ceiling stop at ${at.toISOString()}`),
    );
  }
}

/** What happens to the running executions without `--force`, and each of them. */
function describeRecording(arns: readonly string[]): string {
  return (
    `${executionCount(arns)} will record the run as inconclusive once the workers return (within seconds); ` +
    `add --force to stop ${arns.length === 1 ? 'it' : 'them'} at once without a record:\n${listArns(arns)}`
  );
}

/** The executions `--force` stopped. */
function describeStopped(arns: readonly string[]): string {
  return `Stopped ${executionCount(arns)} (not recorded):\n${listArns(arns)}`;
}

/** `1 running execution`, `2 running executions`. */
function executionCount(arns: readonly string[]): string {
  return `${arns.length} running execution${arns.length === 1 ? '' : 's'}`;
}

function listArns(arns: readonly string[]): string {
  return arns.map((arn) => `  ${arn}\n`).join('');
}

/**
 * When the stop request is stamped. Workers compare it with their run's
 * plan time, taken on AWS's clock, so a laptop a few seconds behind would
 * otherwise miss a run planned just before. The stamp is therefore never
 * earlier than the newest running execution's start (Step Functions' clock)
 * plus its region's stagger wait (`startOffsetSeconds` of its input) and the
 * plan step's timeout, by which that run is planned.
 */
export function stopRequestTime(
  now: Date,
  running: ReadonlyArray<RunningExecution & { startOffsetSeconds?: number }>,
): Date {
  const plannedBy = running.map(
    (execution) => execution.startedAt.getTime() + ((execution.startOffsetSeconds ?? 0) + PLAN_TIMEOUT_SECONDS) * 1000,
  );
  return new Date(Math.max(now.getTime(), ...plannedBy));
}

/** Disables the target's schedule in the region; returns the exit code. */
export function pauseCommand(
  flags: DeployedTargetFlags,
  io: TextIo,
  deps: DeployedDeps = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  return setScheduleState(flags, 'DISABLED', io, deps);
}

/** Enables the target's schedule in the region; returns the exit code. */
export function resumeCommand(
  flags: DeployedTargetFlags,
  io: TextIo,
  deps: DeployedDeps = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  return setScheduleState(flags, 'ENABLED', io, deps);
}

/** GetSchedule then UpdateSchedule with every field kept and `state` set. */
async function setScheduleState(
  flags: DeployedTargetFlags,
  state: 'ENABLED' | 'DISABLED',
  io: TextIo,
  deps: DeployedDeps,
): Promise<number> {
  const { targetId, region, names } = parseDeployedTarget(flags);
  const name = names.schedule(targetId);
  return withClients(region, deps, async (clients) => {
    const schedules = new ProbeSchedules({ client: clients.scheduler, names });
    const before = await awsCall(`update the schedule ${name}`, region, () => schedules.setState(targetId, state));
    if (!before) {
      throw new WsCeilingError(
        `target ${targetId} has no schedule ${name} in group ${names.scheduleGroup} in ${region}; check ` +
          '--target-id and --region against the config',
        EXIT_CODES.probeFailed,
      );
    }
    const when = `${before.expression}${before.timeZone ? ` ${before.timeZone}` : ''}`;
    const lines =
      before.state === state
        ? [`The schedule ${name} in ${region} is already ${state === 'ENABLED' ? 'enabled' : 'paused'} (${when}).`]
        : state === 'DISABLED'
          ? [
              `Paused the schedule ${name} in ${region} (${when}).`,
              `A run in progress goes on: ws-ceiling stop --target-id ${targetId} --region ${region}` +
                `${deploymentFlag(names)} stops it.`,
              "Its probe-missing alarm pages once no run has reported for the target's expectedEveryHours.",
            ]
          : [`Resumed the schedule ${name} in ${region}: it runs again at ${when}.`];
    lines.push(
      'A cdk deploy that changes this schedule sets it back to the config\'s "enabled"; set "enabled": false ' +
        'there to pause for good.',
    );
    io.stdout.write(`${lines.join('\n')}\n`);
    return EXIT_CODES.completed;
  });
}
