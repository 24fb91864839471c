import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  type GetScheduleOutput,
} from '@aws-sdk/client-scheduler';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DeployedDeps, type TextIo } from '../../bin/cli/deployed-common.js';
import { deployedHistoryCommand } from '../../bin/cli/deployed-history.js';
import { regionsCompareCommand, regionsHistoryCommand } from '../../bin/cli/deployed-regions.js';
import { deployedReportCommand } from '../../bin/cli/deployed-report.js';
import { INVOKE_POLL_MS, INVOKE_WAIT_SLACK_SECONDS, invokeCommand } from '../../bin/cli/deployed-invoke.js';
import { pauseCommand, resumeCommand, stopCommand, stopRequestTime } from '../../bin/cli/deployed-kill-switch.js';
import { printHistory } from '../../bin/cli/history-listing.js';
import { describeHistory } from '../../bin/cli/summary.js';
import type { DeployedClients } from '../../functions/adapters/deployed-clients.js';
import { DynamoRunStore } from '../../functions/adapters/dynamo-run-store.js';
import { DynamoStopRequests } from '../../functions/adapters/dynamo-stop-requests.js';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../functions/adapters/embedded-dynamo.js';
import { loadConfigFile } from '../../functions/config/target-config.js';
import { workerTimeoutSeconds } from '../../functions/config/worker-budget.js';
import { resourceNames } from '../../functions/config/resource-names.js';
import { PLAN_TIMEOUT_SECONDS, stateMachineTimeoutSeconds } from '../../functions/config/run-budget.js';
import { InvalidInputError, WsCeilingError } from '../../functions/engine/errors.js';
import type { RecordStepOutput } from '../../functions/steps/step-payloads.js';
import { cappedRun, heldRun } from '../support/run-results.js';

const RUNS_TABLE_NAME = resourceNames().runsTable;
const REGION = 'eu-west-1';
const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-1:111122223333:stateMachine:ws-ceiling-chat';
const EXECUTION_ARN = 'arn:aws:states:eu-west-1:111122223333:execution:ws-ceiling-chat:run-1';
const NOW = new Date('2026-03-01T10:00:00.000Z');
const chat = loadConfigFile('config/example.config.json').targets[0]!;

const sfn = mockClient(SFNClient);
const scheduler = mockClient(SchedulerClient);

/** The schedule of `chat` as GetSchedule returns it. */
const chatSchedule: GetScheduleOutput = {
  Arn: 'arn:aws:scheduler:eu-west-1:111122223333:schedule/ws-ceiling/ws-ceiling-chat',
  Name: 'ws-ceiling-chat',
  GroupName: 'ws-ceiling',
  State: 'ENABLED',
  ScheduleExpression: 'cron(0 2 * * ? *)',
  ScheduleExpressionTimezone: 'Europe/Paris',
  Description: 'ws-ceiling probe of chat',
  FlexibleTimeWindow: { Mode: 'OFF' },
  ActionAfterCompletion: 'NONE',
  CreationDate: new Date('2026-01-01T00:00:00.000Z'),
  Target: {
    Arn: STATE_MACHINE_ARN,
    RoleArn: 'arn:aws:iam::111122223333:role/ws-ceiling-scheduler',
    Input: JSON.stringify({ target: chat, trigger: 'schedule' }),
    RetryPolicy: { MaximumRetryAttempts: 0 },
  },
};

const verdict: RecordStepOutput = {
  runId: 'run-1',
  targetId: 'chat',
  verdict: 'ok',
  verdictReason: 'Concurrency cap at 1500: upgrades failed once 1500 connections were open.',
  ceiling: { value: 1500, reached: true },
  dropOnset: 1500,
  limitingFactor: 'concurrency-cap',
  stored: 'written',
};

/** Output written by a command. */
function capture(): { io: TextIo; written: { stdout: string; stderr: string } } {
  const written = { stdout: '', stderr: '' };
  return {
    io: {
      stdout: { write: (text: string) => (written.stdout += text) },
      stderr: { write: (text: string) => (written.stderr += text) },
    },
    written,
  };
}

/**
 * Injected collaborators: mocked SFN and Scheduler clients, a DynamoDB client for `dynamoEndpoint`, a recorded sleep.
 */
function deps(dynamoEndpoint?: string): DeployedDeps & { regions: string[]; sleeps: number[] } {
  const regions: string[] = [];
  const sleeps: number[] = [];
  return {
    regions,
    sleeps,
    clientsFor: (region): DeployedClients => {
      regions.push(region);
      return {
        sfn: new SFNClient({ region }),
        scheduler: new SchedulerClient({ region }),
        dynamo: new DynamoDBClient({
          region,
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          maxAttempts: 1,
          ...(dynamoEndpoint ? { endpoint: dynamoEndpoint } : {}),
        }),
      };
    },
    sleep: (milliseconds) => {
      sleeps.push(milliseconds);
      return Promise.resolve();
    },
    now: () => NOW,
  };
}

/** The state machine list, over two pages, with chat's on the second. */
function mockStateMachines(): void {
  sfn
    .on(ListStateMachinesCommand)
    .resolvesOnce({
      stateMachines: [
        {
          name: 'ws-ceiling-other',
          stateMachineArn: `${STATE_MACHINE_ARN}-other`,
          type: 'STANDARD',
          creationDate: NOW,
        },
      ],
      nextToken: 'page-2',
    })
    .resolvesOnce({
      stateMachines: [
        { name: 'ws-ceiling-chat', stateMachineArn: STATE_MACHINE_ARN, type: 'STANDARD', creationDate: NOW },
      ],
    })
    // Any later look-up (chat's other region) finds it on one page.
    .resolves({
      stateMachines: [
        { name: 'ws-ceiling-chat', stateMachineArn: STATE_MACHINE_ARN, type: 'STANDARD', creationDate: NOW },
      ],
    });
}

/** The error a rejected promise carries. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a rejection');
}

const embedded: EmbeddedDynamo[] = [];
const directories: string[] = [];

/** The embedded store with the runs table, for the commands that read or write it. */
async function embeddedTable(): Promise<EmbeddedDynamo> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'ws-ceiling-deployed-'));
  directories.push(directory);
  const store = await startEmbeddedDynamo({ directory });
  embedded.push(store);
  await new DynamoRunStore({ client: store.client, tableName: RUNS_TABLE_NAME }).ensureTable();
  return store;
}

beforeEach(() => {
  sfn.reset();
  scheduler.reset();
});

afterEach(async () => {
  await Promise.all(embedded.splice(0).map((store) => store.stop()));
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

describe('invokeCommand', () => {
  beforeEach(() => {
    mockStateMachines();
    scheduler.on(GetScheduleCommand, { Name: 'ws-ceiling-chat', GroupName: 'ws-ceiling' }).resolves(chatSchedule);
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: NOW });
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
  });

  it('starts the state machine with the schedule input marked invoke, polls, and prints the verdict', async () => {
    sfn
      .on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN })
      .resolvesOnce({ status: 'RUNNING' })
      .resolvesOnce({ status: 'RUNNING' })
      .resolvesOnce({ status: 'SUCCEEDED', output: JSON.stringify(verdict) });
    const { io, written } = capture();
    const injected = deps();

    expect(await invokeCommand({ targetId: 'chat', region: REGION, wait: true }, io, injected)).toBe(0);

    // Chat is probed from two regions: no run may be in progress in either before a new one starts.
    expect(injected.regions).toEqual([REGION, 'us-east-1']);
    expect(sfn.commandCalls(ListStateMachinesCommand).map((call) => call.args[0].input)).toEqual([
      { nextToken: undefined },
      { nextToken: 'page-2' },
      { nextToken: undefined },
    ]);
    expect(sfn.commandCalls(ListExecutionsCommand).map((call) => call.args[0].input)).toEqual([
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', nextToken: undefined },
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', nextToken: undefined },
    ]);
    const starts = sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(starts).toHaveLength(1);
    expect(starts[0]?.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(JSON.parse(starts[0]?.input ?? '')).toEqual({ target: chat, trigger: 'invoke' });
    expect(injected.sleeps).toEqual([INVOKE_POLL_MS, INVOKE_POLL_MS]);
    expect(written.stdout).toBe(
      [
        'Run run-1 of chat in eu-west-1: OK',
        '  Ceiling:     1500 concurrent connections',
        '  Drops began: at 1500 open connections',
        '  Cause:       concurrency-cap',
        '',
        '  Concurrency cap at 1500: upgrades failed once 1500 connections were open.',
        '',
        'Stored (see: ws-ceiling history --target-id chat --region eu-west-1)',
        '',
      ].join('\n'),
    );
    expect(written.stderr).toContain(`Started a run of chat in eu-west-1: ${EXECUTION_ARN}`);
    expect(written.stderr).toContain(
      `Waiting up to ${stateMachineTimeoutSeconds(workerTimeoutSeconds(chat.plan)) + INVOKE_WAIT_SLACK_SECONDS} s`,
    );
  });

  it.each([
    ['regressed', 1],
    ['below-floor', 1],
    ['inconclusive', 3],
    ['failed', 3],
  ] as const)('exits by the verdict: %s gives %i', async (runVerdict, code) => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', output: JSON.stringify({ ...verdict, verdict: runVerdict }) });
    const { io, written } = capture();
    expect(await invokeCommand({ targetId: 'chat', region: REGION, wait: true }, io, deps())).toBe(code);
    expect(written.stdout).toContain(`: ${runVerdict.toUpperCase()}`);
  });

  it('prints the execution and the verdict as JSON with --json', async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'SUCCEEDED',
      output: JSON.stringify({ ...verdict, ceiling: { value: 2500, reached: false } }),
    });
    const { io, written } = capture();
    expect(await invokeCommand({ targetId: 'chat', region: REGION, wait: true, json: true }, io, deps())).toBe(0);
    expect(JSON.parse(written.stdout)).toEqual({
      executionArn: EXECUTION_ARN,
      region: REGION,
      ...verdict,
      ceiling: { value: 2500, reached: false },
    });
  });

  it('returns at once with the execution ARN with --no-wait', async () => {
    const { io, written } = capture();
    expect(await invokeCommand({ targetId: 'chat', region: REGION, wait: false }, io, deps())).toBe(0);
    expect(written.stdout).toBe(`${EXECUTION_ARN}\n`);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
  });

  it('gives up after a bounded wait, with exit 3', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    const injected = deps();
    const waitSeconds = stateMachineTimeoutSeconds(workerTimeoutSeconds(chat.plan)) + INVOKE_WAIT_SLACK_SECONDS;
    const polls = Math.ceil((waitSeconds * 1000) / INVOKE_POLL_MS);

    const error = await rejection(
      invokeCommand({ targetId: 'chat', region: REGION, wait: true }, capture().io, injected),
    );

    expect(error).toBeInstanceOf(WsCeilingError);
    expect((error as WsCeilingError).exitCode).toBe(3);
    expect(error.message).toBe(
      `the run ${EXECUTION_ARN} is still running after ${waitSeconds} s; follow it in the Step Functions ` +
        'console, or stop it with ws-ceiling stop',
    );
    expect(injected.sleeps).toHaveLength(polls);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(polls + 1);
  });

  it('reports an execution that failed with its error and cause, exit 3', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'FAILED', error: 'InvalidInputError', cause: 'plan.holdSeconds: must be …' });
    const error = await rejection(
      invokeCommand({ targetId: 'chat', region: REGION, wait: true }, capture().io, deps()),
    );
    expect(error.message).toBe(
      `the run ${EXECUTION_ARN} ended FAILED (InvalidInputError: plan.holdSeconds: must be …)`,
    );
    expect((error as WsCeilingError).exitCode).toBe(3);
  });

  it('names the target and region when the target is not deployed there, exit 3, and starts nothing', async () => {
    sfn.on(ListStateMachinesCommand).resolves({ stateMachines: [] });
    const error = await rejection(
      invokeCommand({ targetId: 'chat', region: 'ap-south-1', wait: true }, capture().io, deps()),
    );
    expect(error).toBeInstanceOf(WsCeilingError);
    expect((error as WsCeilingError).exitCode).toBe(3);
    expect(error.message).toBe(
      'target chat is not deployed in ap-south-1: there is no state machine ws-ceiling-chat. ' +
        "Check --target-id and --region against the config's targets and regions, and deploy the stack " +
        'ws-ceiling-ap-south-1.',
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses while a run of the target is in progress in one of its regions, naming it, unless --force', async () => {
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: `${EXECUTION_ARN}-us`,
          stateMachineArn: STATE_MACHINE_ARN,
          name: 'us',
          status: 'RUNNING',
          startDate: NOW,
        },
      ],
    });
    const error = await rejection(
      invokeCommand({ targetId: 'chat', region: REGION, wait: false }, capture().io, deps()),
    );
    expect((error as WsCeilingError).exitCode).toBe(3);
    expect(error.message).toBe(
      'a run of chat is in progress, and a second one now would probe the endpoint at the same time and skew ' +
        `both ceilings:\n  eu-west-1: ${EXECUTION_ARN}-us (started 2026-03-01T10:00:00.000Z)\n  us-east-1: ` +
        `${EXECUTION_ARN}-us (started 2026-03-01T10:00:00.000Z)\nWait for it to end (ws-ceiling history shows ` +
        'its verdict), stop it (ws-ceiling stop), or add --force to start anyway (in the same region the new ' +
        'run is then skipped while the lock is held).',
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);

    const { io, written } = capture();
    expect(await invokeCommand({ targetId: 'chat', region: REGION, wait: false, force: true }, io, deps())).toBe(0);
    expect(written.stdout).toBe(`${EXECUTION_ARN}\n`);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it("starts at once, without the region's stagger wait the schedule's input carries", async () => {
    scheduler.on(GetScheduleCommand).resolves({
      ...chatSchedule,
      Target: {
        ...chatSchedule.Target!,
        Input: JSON.stringify({ target: chat, trigger: 'schedule', startOffsetSeconds: 1680 }),
      },
    });
    expect(await invokeCommand({ targetId: 'chat', region: REGION, wait: false }, capture().io, deps())).toBe(0);
    const [start] = sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(JSON.parse(start?.input ?? '')).toEqual({ target: chat, trigger: 'invoke' });
  });

  it("finds a named deployment's state machine and schedule with --deployment", async () => {
    sfn.reset();
    sfn.on(ListStateMachinesCommand).resolves({
      stateMachines: [
        {
          name: 'ws-ceiling-staging-chat',
          stateMachineArn: `${STATE_MACHINE_ARN}-staging`,
          type: 'STANDARD',
          creationDate: NOW,
        },
      ],
    });
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: NOW });
    scheduler
      .on(GetScheduleCommand, { Name: 'ws-ceiling-staging-chat', GroupName: 'ws-ceiling-staging' })
      .resolves(chatSchedule);
    const flags = { targetId: 'chat', region: REGION, wait: false, deployment: 'staging' };
    expect(await invokeCommand(flags, capture().io, deps())).toBe(0);
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.stateMachineArn).toBe(
      `${STATE_MACHINE_ARN}-staging`,
    );
    const error = await rejection(invokeCommand({ ...flags, deployment: 'Staging-1' }, capture().io, deps()));
    expect((error as InvalidInputError).field).toBe('--deployment');
  });

  it('names the schedule when the target has none, exit 3', async () => {
    scheduler.on(GetScheduleCommand).rejects(
      new ResourceNotFoundException({
        Message: 'Schedule ws-ceiling-chat does not exist.',
        message: 'Schedule ws-ceiling-chat does not exist.',
        $metadata: {},
      }),
    );
    const error = await rejection(
      invokeCommand({ targetId: 'chat', region: REGION, wait: true }, capture().io, deps()),
    );
    expect(error.message).toBe(
      'target chat has no schedule ws-ceiling-chat in group ws-ceiling in eu-west-1; deploy the stack again',
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('turns an AWS failure into an error saying what was attempted and where', async () => {
    sfn.on(ListStateMachinesCommand).rejects(
      new SFNServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        message: 'not authorized to perform: states:ListStateMachines',
        $metadata: {},
      }),
    );
    const error = await rejection(
      invokeCommand({ targetId: 'chat', region: REGION, wait: true }, capture().io, deps()),
    );
    expect(error.message).toBe(
      'cannot look up the state machine ws-ceiling-chat in eu-west-1 (AccessDeniedException: not authorized to ' +
        'perform: states:ListStateMachines)',
    );
    expect((error as WsCeilingError).exitCode).toBe(3);
  });

  it.each([
    [{ targetId: 'Chat Prod', region: REGION }, '--target-id'],
    [{ targetId: 'chat', region: 'Ireland' }, '--region'],
  ])('refuses bad flags %j before any AWS call', async (flags, field) => {
    const injected = deps();
    const error = await rejection(invokeCommand({ ...flags, wait: true }, capture().io, injected));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe(field);
    expect(injected.regions).toEqual([]);
  });
});

describe('stopCommand', () => {
  it('with --force, records a stop request the workers see, then stops only the RUNNING executions', async () => {
    const table = await embeddedTable();
    mockStateMachines();
    sfn
      .on(ListExecutionsCommand)
      .resolvesOnce({
        executions: [
          {
            executionArn: `${EXECUTION_ARN}-a`,
            stateMachineArn: STATE_MACHINE_ARN,
            name: 'a',
            status: 'RUNNING',
            startDate: NOW,
          },
        ],
        nextToken: 'more',
      })
      .resolvesOnce({
        executions: [
          {
            executionArn: `${EXECUTION_ARN}-b`,
            stateMachineArn: STATE_MACHINE_ARN,
            name: 'b',
            status: 'RUNNING',
            startDate: NOW,
          },
        ],
      });
    sfn.on(StopExecutionCommand).resolves({ stopDate: NOW });
    const { io, written } = capture();

    expect(await stopCommand({ targetId: 'chat', region: REGION, force: true }, io, deps(table.endpoint))).toBe(0);

    // Both executions started at NOW: their runs are planned by NOW + the plan step's timeout at the latest.
    const plannedBy = NOW.getTime() + PLAN_TIMEOUT_SECONDS * 1000;
    const stops = new DynamoStopRequests({ client: table.client, tableName: RUNS_TABLE_NAME });
    expect(await stops.stopRequestedSince('chat', plannedBy)).toBe(true);
    expect(await stops.stopRequestedSince('chat', plannedBy + 1)).toBe(false);
    expect(sfn.commandCalls(ListExecutionsCommand).map((call) => call.args[0].input)).toEqual([
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', nextToken: undefined },
      { stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', nextToken: 'more' },
    ]);
    expect(sfn.commandCalls(StopExecutionCommand).map((call) => call.args[0].input)).toEqual(
      ['a', 'b'].map((suffix) => ({
        executionArn: `${EXECUTION_ARN}-${suffix}`,
        error: 'WsCeiling.Stopped',
        cause: `ws-ceiling stop at ${new Date(plannedBy).toISOString()}`,
      })),
    );
    expect(written.stdout).toContain(`Stop requested for chat in eu-west-1 at ${new Date(plannedBy).toISOString()}`);
    expect(written.stdout).toContain(
      `Stopped 2 running executions (not recorded):\n  ${EXECUTION_ARN}-a\n  ${EXECUTION_ARN}-b\n`,
    );
  });

  it('without --force, lets running executions record the stopped run', async () => {
    const table = await embeddedTable();
    mockStateMachines();
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: `${EXECUTION_ARN}-a`,
          stateMachineArn: STATE_MACHINE_ARN,
          name: 'a',
          status: 'RUNNING',
          startDate: NOW,
        },
      ],
    });
    const { io, written } = capture();
    expect(await stopCommand({ targetId: 'chat', region: REGION }, io, deps(table.endpoint))).toBe(0);
    expect(
      await new DynamoStopRequests({ client: table.client, tableName: RUNS_TABLE_NAME }).stopRequestedSince(
        'chat',
        NOW.getTime(),
      ),
    ).toBe(true);
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
    expect(written.stdout).toContain(
      '1 running execution will record the run as inconclusive once the workers return (within seconds); add ' +
        `--force to stop it at once without a record:\n  ${EXECUTION_ARN}-a\n`,
    );
  });

  it("stamps the request late enough for a run in progress when the caller's clock is behind AWS's", () => {
    const laptop = new Date('2026-03-01T10:00:00.000Z');
    const started = new Date('2026-03-01T10:00:05.000Z');
    expect(stopRequestTime(laptop, [{ arn: 'a', startedAt: started }]).getTime()).toBe(
      started.getTime() + PLAN_TIMEOUT_SECONDS * 1000,
    );
    expect(stopRequestTime(laptop, []).getTime()).toBe(laptop.getTime());
    const longAgo = new Date('2026-03-01T09:00:00.000Z');
    expect(stopRequestTime(laptop, [{ arn: 'b', startedAt: longAgo }]).getTime()).toBe(laptop.getTime());
    // A scheduled run of a staggered region plans only after its wait: the request must be later than that.
    expect(stopRequestTime(laptop, [{ arn: 'c', startedAt: started, startOffsetSeconds: 1680 }]).getTime()).toBe(
      started.getTime() + (1680 + PLAN_TIMEOUT_SECONDS) * 1000,
    );
  });

  it("reads each running execution's stagger wait from its input before it stamps the request", async () => {
    mockStateMachines();
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: EXECUTION_ARN,
          stateMachineArn: STATE_MACHINE_ARN,
          name: 'a',
          status: 'RUNNING',
          startDate: NOW,
        },
      ],
    });
    sfn.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves({
      status: 'RUNNING',
      input: JSON.stringify({ target: chat, trigger: 'schedule', startOffsetSeconds: 1680 }),
    });
    const dynamo = new DynamoDBClient({
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const dynamoMock = mockClient(dynamo);
    dynamoMock.on(PutItemCommand).resolves({});
    const { io, written } = capture();
    const injected = { ...deps(), clientsFor: (region: string) => ({ ...deps().clientsFor(region), dynamo }) };
    expect(await stopCommand({ targetId: 'chat', region: REGION }, io, injected)).toBe(0);
    const stamped = new Date(NOW.getTime() + (1680 + PLAN_TIMEOUT_SECONDS) * 1000).toISOString();
    expect(written.stdout).toContain(`Stop requested for chat in eu-west-1 at ${stamped}`);
    expect(dynamoMock.commandCalls(PutItemCommand)[0]?.args[0].input.Item?.requestedAt).toEqual({
      N: String(Date.parse(stamped)),
    });
  });

  it(
    'writes no stop request when no run is in progress, so a clock ahead of AWS cannot stop the next scheduled ' +
      'run',
    async () => {
      for (const force of [false, true]) {
        sfn.reset();
        mockStateMachines();
        sfn.on(ListExecutionsCommand).resolves({ executions: [] });
        const dynamo = new DynamoDBClient({
          region: REGION,
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        });
        const dynamoMock = mockClient(dynamo);
        dynamoMock.onAnyCommand().rejects(new Error('no DynamoDB call was expected'));
        const { io, written } = capture();
        // The laptop's clock is a day ahead of AWS's.
        const ahead = {
          ...deps(),
          now: () => new Date(NOW.getTime() + 86_400_000),
          clientsFor: (region: string) => ({ ...deps().clientsFor(region), dynamo }),
        };

        expect(await stopCommand({ targetId: 'chat', region: REGION, force }, io, ahead)).toBe(0);

        expect(dynamoMock.calls()).toHaveLength(0);
        expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
        expect(written.stdout).toBe(
          'No run of chat is in progress in eu-west-1: there is nothing to stop, and no stop request was written, ' +
            'so the next scheduled run starts as usual. ' +
            'To keep the target from running: ws-ceiling pause --target-id chat --region eu-west-1.\n',
        );
      }
    },
  );

  it('writes the stop request through PutItem when a run is in progress', async () => {
    mockStateMachines();
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: `${EXECUTION_ARN}-a`,
          stateMachineArn: STATE_MACHINE_ARN,
          name: 'a',
          status: 'RUNNING',
          startDate: NOW,
        },
      ],
    });
    const dynamo = new DynamoDBClient({
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const dynamoMock = mockClient(dynamo);
    dynamoMock.on(PutItemCommand).resolves({});
    const { io } = capture();
    expect(
      await stopCommand({ targetId: 'chat', region: REGION }, io, {
        ...deps(),
        clientsFor: (region) => ({ ...deps().clientsFor(region), dynamo }),
      }),
    ).toBe(0);
    expect(dynamoMock.commandCalls(PutItemCommand).map((call) => call.args[0].input.Item?.pk)).toEqual([
      { S: 'STOP#chat' },
    ]);
  });

  it('records nothing for a target that is not deployed in the region, exit 3', async () => {
    const table = await embeddedTable();
    sfn.on(ListStateMachinesCommand).resolves({ stateMachines: [] });
    const error = await rejection(
      stopCommand({ targetId: 'chat', region: REGION }, capture().io, deps(table.endpoint)),
    );
    expect((error as WsCeilingError).exitCode).toBe(3);
    expect(error.message).toContain('target chat is not deployed in eu-west-1');
    expect(
      await new DynamoStopRequests({ client: table.client, tableName: RUNS_TABLE_NAME }).stopRequestedSince('chat', 0),
    ).toBe(false);
  });
});

describe('pauseCommand', () => {
  it('disables the schedule with UpdateSchedule, keeping every other field', async () => {
    scheduler.on(GetScheduleCommand, { Name: 'ws-ceiling-chat', GroupName: 'ws-ceiling' }).resolves(chatSchedule);
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: chatSchedule.Arn });
    const { io, written } = capture();

    expect(await pauseCommand({ targetId: 'chat', region: REGION }, io, deps())).toBe(0);

    expect(scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input)).toEqual([
      {
        Name: 'ws-ceiling-chat',
        GroupName: 'ws-ceiling',
        ScheduleExpression: 'cron(0 2 * * ? *)',
        ScheduleExpressionTimezone: 'Europe/Paris',
        StartDate: undefined,
        EndDate: undefined,
        Description: 'ws-ceiling probe of chat',
        KmsKeyArn: undefined,
        Target: chatSchedule.Target,
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'NONE',
        State: 'DISABLED',
      },
    ]);
    expect(written.stdout).toContain(
      'Paused the schedule ws-ceiling-chat in eu-west-1 (cron(0 2 * * ? *) Europe/Paris).',
    );
    expect(written.stdout).toContain(
      'A run in progress goes on: ws-ceiling stop --target-id chat --region eu-west-1 stops it.',
    );
    expect(written.stdout).toContain(
      "Its probe-missing alarm pages once no run has reported for the target's expectedEveryHours.",
    );
  });

  it('leaves a schedule that is already paused alone', async () => {
    scheduler.on(GetScheduleCommand).resolves({ ...chatSchedule, State: 'DISABLED' });
    const { io, written } = capture();
    expect(await pauseCommand({ targetId: 'chat', region: REGION }, io, deps())).toBe(0);
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
    expect(written.stdout).toContain('The schedule ws-ceiling-chat in eu-west-1 is already paused');
  });

  it('names the target and region when there is no schedule, exit 3', async () => {
    scheduler.on(GetScheduleCommand).rejects(
      new ResourceNotFoundException({
        Message: 'Schedule ws-ceiling-chat does not exist.',
        message: 'Schedule ws-ceiling-chat does not exist.',
        $metadata: {},
      }),
    );
    const error = await rejection(pauseCommand({ targetId: 'chat', region: 'us-west-2' }, capture().io, deps()));
    expect((error as WsCeilingError).exitCode).toBe(3);
    expect(error.message).toBe(
      'target chat has no schedule ws-ceiling-chat in group ws-ceiling in us-west-2; check --target-id and ' +
        '--region against the config',
    );
  });
});

describe('resumeCommand', () => {
  it('enables a paused schedule, keeping every other field', async () => {
    scheduler.on(GetScheduleCommand).resolves({ ...chatSchedule, State: 'DISABLED' });
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: chatSchedule.Arn });
    const { io, written } = capture();
    expect(await resumeCommand({ targetId: 'chat', region: REGION }, io, deps())).toBe(0);
    const [update] = scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input);
    expect(update).toMatchObject({
      Name: 'ws-ceiling-chat',
      GroupName: 'ws-ceiling',
      State: 'ENABLED',
      Target: chatSchedule.Target,
    });
    expect(written.stdout).toContain(
      'Resumed the schedule ws-ceiling-chat in eu-west-1: it runs again at cron(0 2 * * ? *) Europe/Paris.',
    );
  });
});

describe('printHistory', () => {
  it('prints the runs of one target or of all, as a table or JSON', async () => {
    const table = await embeddedTable();
    const store = new DynamoRunStore({ client: table.client, tableName: RUNS_TABLE_NAME });
    const other = { ...heldRun, targetId: 'analytics-events', runId: 'run-other' };
    for (const run of [cappedRun, heldRun, other]) await store.putRun(run);

    const all = capture();
    expect(await printHistory(store, { limit: 10 }, all.io)).toBe(0);
    expect(all.written.stdout).toBe(`${describeHistory(await store.recentRuns(10))}\n`);
    expect(all.written.stdout).toContain('analytics-events');

    const one = capture();
    await printHistory(store, { targetId: cappedRun.targetId, limit: 1, json: true }, one.io);
    expect(JSON.parse(one.written.stdout)).toStrictEqual([heldRun]);
  });
});

describe('deployedHistoryCommand', () => {
  it('lists the runs of the deployed table of --region, skipping stop requests', async () => {
    const table = await embeddedTable();
    await new DynamoRunStore({ client: table.client, tableName: RUNS_TABLE_NAME }).putRun(cappedRun);
    await new DynamoStopRequests({ client: table.client, tableName: RUNS_TABLE_NAME }).requestStop(
      cappedRun.targetId,
      NOW,
    );
    const { io, written } = capture();
    const injected = deps(table.endpoint);
    expect(await deployedHistoryCommand({ region: REGION, limit: 20 }, io, injected)).toBe(0);
    expect(written.stdout).toBe(`${describeHistory([cappedRun])}\n`);
    expect(injected.regions).toEqual([REGION]);
  });

  it('reads one target as JSON from the runs table of --region, through the region clients', async () => {
    const table = await embeddedTable();
    await new DynamoRunStore({ client: table.client, tableName: RUNS_TABLE_NAME }).putRun(cappedRun);
    const injected = deps(table.endpoint);
    const { io, written } = capture();
    expect(
      await deployedHistoryCommand(
        { region: 'us-east-1', targetId: cappedRun.targetId, limit: 5, json: true },
        io,
        injected,
      ),
    ).toBe(0);
    expect(JSON.parse(written.stdout)).toStrictEqual([cappedRun]);
    expect(injected.regions).toEqual(['us-east-1']);
  });

  it.each([
    [{ region: 'west', limit: 5 }, '--region'],
    [{ region: REGION, targetId: 'Bad Id', limit: 5 }, '--target-id'],
  ])('refuses bad flags %j', async (flags, field) => {
    const error = await rejection(deployedHistoryCommand(flags, capture().io, deps()));
    expect((error as InvalidInputError).field).toBe(field);
  });
});

/** Collaborators whose DynamoDB client of each region reaches that region's own embedded table. */
function regionalDeps(endpoints: Record<string, string>): DeployedDeps & { regions: string[] } {
  const base = deps();
  return {
    ...base,
    clientsFor: (region) => {
      const endpoint = endpoints[region];
      if (!endpoint) throw new Error(`no table for ${region}`);
      return { ...base.clientsFor(region), dynamo: deps(endpoint).clientsFor(region).dynamo };
    },
  };
}

describe('history and compare across regions', () => {
  const usRun = { ...heldRun, runId: 'run-us', region: 'us-east-1', startedAt: '2025-03-02T10:30:00.000Z' };

  /** Europe's table holds cappedRun and heldRun of chat-prod, America's one later run, and Asia's none. */
  async function twoRegions() {
    const europe = await embeddedTable();
    const america = await embeddedTable();
    const asia = await embeddedTable();
    const europeRuns = new DynamoRunStore({ client: europe.client, tableName: RUNS_TABLE_NAME });
    for (const run of [cappedRun, heldRun]) await europeRuns.putRun(run);
    await new DynamoRunStore({ client: america.client, tableName: RUNS_TABLE_NAME }).putRun(usRun);
    return regionalDeps({ 'eu-west-1': europe.endpoint, 'us-east-1': america.endpoint, 'ap-south-1': asia.endpoint });
  }

  it('lists the runs of every region of --regions in one listing, newest first, each with its region', async () => {
    const injected = await twoRegions();
    const { io, written } = capture();
    expect(await regionsHistoryCommand({ regions: 'eu-west-1,us-east-1', limit: 10 }, io, injected)).toBe(0);
    const lines = written.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^started \(UTC\)\s+region\s+target\s+verdict\s+ceiling\s+baseline\s+ratio\s+drops at/);
    expect(lines.slice(1).map((line) => line.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['2025-03-02 10:30:00', 'us-east-1', 'chat-prod', 'ok'],
      ['2025-03-02 10:00:00', 'eu-west-1', 'chat-prod', 'ok'],
      ['2025-03-01 10:00:00', 'eu-west-1', 'chat-prod', 'regressed'],
    ]);
    const json = capture();
    await regionsHistoryCommand(
      { regions: 'us-east-1, eu-west-1', limit: 1, targetId: 'chat-prod', json: true },
      json.io,
      injected,
    );
    expect((JSON.parse(json.written.stdout) as Array<{ runId: string }>).map((run) => run.runId)).toEqual([
      'run-us',
      'run-held',
    ]);
  });

  it("puts the target's latest run in each region side by side: verdict, ceiling, baseline, cause", async () => {
    const injected = await twoRegions();
    const { io, written } = capture();
    const flags = { regions: 'eu-west-1,us-east-1,ap-south-1', targetId: 'chat-prod' };
    const all = injected;
    expect(await regionsCompareCommand(flags, io, all)).toBe(0);
    const text = written.stdout;
    expect(text).toContain('chat-prod: the latest run in each region');
    expect(text).toMatch(/^\s+eu-west-1\s+us-east-1\s+ap-south-1$/m);
    expect(text).toMatch(/^verdict\s+ok\s+ok\s+no run$/m);
    expect(text).toMatch(/^run id\s+run-held\s+run-us\s+no run$/m);
    expect(text).toContain('eu-west-1: Every stage held.');
    const json = capture();
    await regionsCompareCommand({ ...flags, json: true }, json.io, all);
    expect(JSON.parse(json.written.stdout)).toMatchObject({
      targetId: 'chat-prod',
      regions: [
        { region: 'eu-west-1', run: { runId: 'run-held' } },
        { region: 'us-east-1', run: { runId: 'run-us' } },
        { region: 'ap-south-1', run: null },
      ],
    });
    const error = await rejection(regionsCompareCommand({ regions: 'eu-west-1' }, capture().io, all));
    expect((error as InvalidInputError).field).toBe('--target-id');
    const badRegions = await rejection(
      regionsCompareCommand({ regions: 'eu-west-1,EU', targetId: 'x' }, capture().io, all),
    );
    expect((badRegions as InvalidInputError).field).toBe('--regions');
  });

  it('writes the HTML report of a deployed run read from --region, with its history', async () => {
    const injected = await twoRegions();
    const directory = await mkdtemp(path.join(os.tmpdir(), 'ws-ceiling-report-'));
    directories.push(directory);
    const out = path.join(directory, 'report.html');
    const { io, written } = capture();
    expect(await deployedReportCommand('latest', { region: 'eu-west-1', out }, io, injected)).toBe(0);
    expect(written.stdout).toBe(`${out}\n`);
    const html = await readFile(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('run-held');
    const byId = capture();
    await deployedReportCommand('run-cap', { region: 'eu-west-1', out }, byId.io, injected);
    expect(await readFile(out, 'utf8')).toContain('run-capped');
    const missing = await rejection(
      deployedReportCommand('nope-1234', { region: 'us-east-1', out }, capture().io, injected),
    );
    expect(missing.message).toContain('no run "nope-1234" among the runs in ws-ceiling-runs in us-east-1');
  });
});
