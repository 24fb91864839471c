/**
 * `ws-ceiling invoke --target-id X --region R`: starts a run of a deployed
 * target now, with the same input its schedule sends (without the region's
 * stagger wait), and waits (bounded) for the record step's verdict. The exit
 * code follows the verdict, as for `run`. It refuses while a run of the
 * target is in progress in any of its regions (two runs against one endpoint
 * skew both ceilings), unless `--force`.
 */
import type { Command } from 'commander';
import { ProbeExecutions, type RunningExecution } from '../../functions/adapters/probe-executions.js';
import { ProbeSchedules } from '../../functions/adapters/probe-schedules.js';
import { parseTargetConfig } from '../../functions/config/target-config.js';
import { workerTimeoutSeconds } from '../../functions/config/worker-budget.js';
import { WsCeilingError } from '../../functions/engine/errors.js';
import type { RecordStepOutput, RunRequest } from '../../functions/steps/step-payloads.js';
import { describeCeiling } from '../../functions/report/format.js';
import {
  awsCall,
  DEFAULT_DEPLOYED_DEPS,
  deploymentFlag,
  findStateMachine,
  parseDeployedTarget,
  withClients,
  withDeploymentOption,
  type DeployedDeps,
  type DeployedTarget,
  type DeployedTargetFlags,
  type TextIo,
} from './deployed-common.js';
import { stateMachineTimeoutSeconds } from '../../functions/config/run-budget.js';
import type { CliContext } from './cli-context.js';
import { EXIT_CODES, exitCodeForVerdict } from './exit-codes.js';
import { addDeployedTargetOptions, jsonOption } from './shared-options.js';
import { describeStored } from './summary.js';

/** How often the execution is polled while waiting. */
export const INVOKE_POLL_MS = 5_000;
/** Time waited past the state machine's own timeout, by when the execution has ended one way or another. */
export const INVOKE_WAIT_SLACK_SECONDS = 30;
/** Longest error cause of a failed execution shown. */
const MAX_CAUSE_LENGTH = 500;

/** Flags of `ws-ceiling invoke`. */
export interface InvokeFlags extends DeployedTargetFlags {
  /** False with `--no-wait`: start the run and return its execution ARN. */
  wait: boolean;
  json?: boolean;
  /** Start even while a run of the target is in progress in one of its regions. */
  force?: boolean;
}

/** Declares `ws-ceiling invoke` on `program`. */
export function registerInvoke(program: Command, { io, setExitCode }: CliContext): void {
  withDeploymentOption(
    addDeployedTargetOptions(
      program
        .command('invoke')
        .description("Start a run of a deployed target now, with its schedule's input, and wait for the verdict."),
    ),
  )
    .option('--no-wait', 'print the execution ARN and return at once')
    .option('--force', 'start even while a run of the target is in progress in one of its regions')
    .addOption(jsonOption('print the verdict as one JSON object'))
    .action(async (flags: InvokeFlags) => setExitCode(await invokeCommand(flags, io)));
}

/** Starts a run of the target now and, unless `--no-wait`, prints its verdict; returns the exit code. */
export async function invokeCommand(
  flags: InvokeFlags,
  io: TextIo,
  deps: DeployedDeps = DEFAULT_DEPLOYED_DEPS,
): Promise<number> {
  const deployed = parseDeployedTarget(flags);
  const { targetId, region } = deployed;
  return withClients(region, deps, async (clients) => {
    const executions = new ProbeExecutions({ client: clients.sfn });
    const stateMachineArn = await findStateMachine(executions, deployed);
    const request = await scheduledRunRequest(
      new ProbeSchedules({ client: clients.scheduler, names: deployed.names }),
      deployed,
    );
    if (!flags.force) {
      await refuseWhileRunning(deployed, request.target.regions, { executions, stateMachineArn }, deps);
    }
    const executionArn = await awsCall(`start a run of ${targetId}`, region, () =>
      executions.start(stateMachineArn, request),
    );
    if (!flags.wait) {
      io.stdout.write(
        flags.json ? `${JSON.stringify({ executionArn, region, status: 'RUNNING' }, null, 2)}\n` : `${executionArn}\n`,
      );
      return EXIT_CODES.completed;
    }
    const waitSeconds =
      stateMachineTimeoutSeconds(workerTimeoutSeconds(request.target.plan)) + INVOKE_WAIT_SLACK_SECONDS;
    io.stderr.write(
      `Started a run of ${targetId} in ${region}: ${executionArn}\n` +
        `Waiting up to ${waitSeconds} s for its verdict (ws-ceiling stop --target-id ${targetId} --region ${region}` +
        `${deploymentFlag(deployed.names)} stops it).\n`,
    );
    const output = await awaitVerdict(executions, executionArn, region, waitSeconds, deps);
    io.stdout.write(
      flags.json
        ? `${JSON.stringify({ executionArn, region, ...output }, null, 2)}\n`
        : `${describeVerdict(output, region, deploymentFlag(deployed.names))}\n`,
    );
    return exitCodeForVerdict(output.verdict);
  });
}

/**
 * Throws (exit 3) when a run of the target is in progress in any of its
 * `regions` (each region's state machine, RUNNING executions; a region where
 * the target is not deployed has none), naming each and what to do. The
 * state machine of `target.region` is `here`, already looked up.
 */
async function refuseWhileRunning(
  target: DeployedTarget,
  regions: readonly string[],
  here: { executions: ProbeExecutions; stateMachineArn: string },
  deps: DeployedDeps,
): Promise<void> {
  const running: Array<{ region: string; execution: RunningExecution }> = [];
  for (const region of regions) {
    const found =
      region === target.region
        ? await listRunning(here.executions, here.stateMachineArn, target)
        : await withClients(region, deps, (clients) =>
            runningElsewhere(new ProbeExecutions({ client: clients.sfn }), { ...target, region }),
          );
    running.push(...found.map((execution) => ({ region, execution })));
  }
  if (running.length === 0) return;
  const where = running
    .map(({ region, execution }) => `  ${region}: ${execution.arn} (started ${execution.startedAt.toISOString()})`)
    .join('\n');
  throw new WsCeilingError(
    `a run of ${target.targetId} is in progress, and a second one now would probe the endpoint at the same ` +
      `time and skew both ceilings:\n${where}\nWait for it to end (ws-ceiling history shows its verdict), stop it ` +
      '(ws-ceiling stop), or add --force to start anyway (in the same region the new run is then skipped while ' +
      'the lock is held).',
    EXIT_CODES.probeFailed,
  );
}

/** The RUNNING executions of the target's state machine in `target.region`, none when it is not deployed there. */
async function runningElsewhere(executions: ProbeExecutions, target: DeployedTarget): Promise<RunningExecution[]> {
  const name = target.names.stateMachine(target.targetId);
  const arn = await awsCall(`look up the state machine ${name}`, target.region, () => executions.stateMachineArn(name));
  return arn === undefined ? [] : listRunning(executions, arn, target);
}

/** The RUNNING executions of `stateMachineArn`. */
function listRunning(
  executions: ProbeExecutions,
  stateMachineArn: string,
  target: DeployedTarget,
): Promise<RunningExecution[]> {
  return awsCall(`list the running executions of ${target.targetId}`, target.region, () =>
    executions.runningExecutions(stateMachineArn),
  );
}

/** The run input the target's schedule sends, re-validated, marked as started by `invoke`, without the stagger. */
async function scheduledRunRequest(schedules: ProbeSchedules, deployed: DeployedTarget): Promise<RunRequest> {
  const { targetId, region, names } = deployed;
  const name = names.schedule(targetId);
  const schedule = await awsCall(`read the schedule ${name}`, region, () => schedules.read(targetId));
  if (schedule?.input === undefined) {
    throw new WsCeilingError(
      `target ${targetId} has ${schedule ? 'no run input on' : 'no'} schedule ${name} in group ${names.scheduleGroup}` +
        ` in ${region}; deploy the stack again`,
      EXIT_CODES.probeFailed,
    );
  }
  const source = `the input of schedule ${name} in ${region}`;
  let input: unknown;
  try {
    input = JSON.parse(schedule.input);
  } catch {
    throw new WsCeilingError(`${source} is not JSON; deploy the stack again`, EXIT_CODES.probeFailed);
  }
  const target = typeof input === 'object' && input !== null && 'target' in input ? input.target : undefined;
  return { target: parseTargetConfig(target, source), trigger: 'invoke' };
}

/** Polls the execution until it ends or `waitSeconds` pass; the record step's output when it SUCCEEDED. */
async function awaitVerdict(
  executions: ProbeExecutions,
  executionArn: string,
  region: string,
  waitSeconds: number,
  deps: DeployedDeps,
): Promise<RecordStepOutput> {
  const polls = Math.ceil((waitSeconds * 1000) / INVOKE_POLL_MS);
  for (let poll = 0; ; poll += 1) {
    const state = await awsCall('read the execution', region, () => executions.describe(executionArn));
    if (state.status === 'SUCCEEDED') return recordOutput(state.output, executionArn);
    if (state.status !== 'RUNNING') {
      const cause = (state.cause ?? '').slice(0, MAX_CAUSE_LENGTH);
      throw new WsCeilingError(
        `the run ${executionArn} ended ${state.status}${
          state.error ? ` (${state.error}${cause ? `: ${cause}` : ''}` + ')' : ''
        }`,
        EXIT_CODES.probeFailed,
      );
    }
    if (poll >= polls) {
      throw new WsCeilingError(
        `the run ${executionArn} is still running after ${waitSeconds} s; follow it in the Step Functions ` +
          'console, or stop it with ws-ceiling stop',
        EXIT_CODES.probeFailed,
      );
    }
    await deps.sleep(INVOKE_POLL_MS);
  }
}

/** The record step's output from the execution's output JSON. */
function recordOutput(output: string | undefined, executionArn: string): RecordStepOutput {
  try {
    const parsed = JSON.parse(output ?? '') as Partial<RecordStepOutput>;
    if (typeof parsed.verdict === 'string' && typeof parsed.runId === 'string') return parsed as RecordStepOutput;
  } catch {
    // Reported below.
  }
  throw new WsCeilingError(`the run ${executionArn} succeeded without a verdict in its output`, EXIT_CODES.probeFailed);
}

/** The verdict in plain words. */
function describeVerdict(output: RecordStepOutput, region: string, deployment: string): string {
  return [
    `Run ${output.runId} of ${output.targetId} in ${region}: ${output.verdict.toUpperCase()}`,
    `  Ceiling:     ${describeCeiling(output)}`,
    `  Drops began: ${output.dropOnset === null ? 'no drops' : `at ${output.dropOnset} open connections`}`,
    `  Cause:       ${output.limitingFactor ?? 'none: nothing failed'}`,
    '',
    `  ${output.verdictReason}`,
    '',
    describeStored(output.stored, output.targetId, { historyFlags: ` --region ${region}${deployment}` }),
  ].join('\n');
}
