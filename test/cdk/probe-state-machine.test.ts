import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTargetConfig } from '../../functions/config/target-config.js';
import { shardCount, workerTimeoutSeconds } from '../../functions/config/worker-budget.js';
import { INLINE_MAP_MAX_CONCURRENCY } from '../../functions/config/aws-limits.js';
import { regionOffsetSeconds, runSpacingMinutes } from '../../functions/config/region-starts.js';
import { resourceNames } from '../../functions/config/resource-names.js';
import type { RunLocks } from '../../functions/steps/run-locks.js';
import {
  isFailedShard,
  type FailedShard,
  type RunRequest,
  type ShardTask,
} from '../../functions/steps/step-payloads.js';
import { scheduledRunRequest } from '../../lib/probe-schedule.js';
import { MAP_PATHS } from '../../lib/probe-state-machine.js';
import type { ProbeTarget } from '../../lib/probe-target.js';
import type { RegionStack } from '../../lib/region-stack.js';
import { stateMachineTimeoutSeconds } from '../../functions/config/run-budget.js';
import { planStep } from '../../functions/steps/plan-step.js';
import { createLogger } from '../../functions/handlers/log.js';
import {
  actionsOfRole,
  buildApp,
  logicalIdOf,
  resourceOf,
  resourcesOf,
  stackOf,
  statementsOfRole,
  type Statement,
  TEST_ACCOUNT,
  testConfig,
  testTarget,
  probeTargetOf,
  removeAssemblies,
} from '../support/cdk.js';

let stack: RegionStack;
let template: Template;
/** The second region of chat, whose runs start later. */
let usStack: RegionStack;
let usTemplate: Template;

const names = resourceNames();
const SCHEDULE_GROUP_NAME = names.scheduleGroup;

/** Run locks that are always free (the plan step's lock is tested on the embedded store). */
const freeLocks: Pick<RunLocks, 'acquire'> = { acquire: () => Promise.resolve({ acquired: true }) };

beforeAll(() => {
  const built = buildApp();
  stack = stackOf(built);
  template = Template.fromStack(stack);
  usStack = stackOf(built, 'us-east-1');
  usTemplate = Template.fromStack(usStack);
});

afterAll(removeAssemblies);

const target = testTarget;

function probeTarget(id: string): ProbeTarget {
  return probeTargetOf(stack, id);
}

/** One state of an Amazon States Language definition. */
interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  [field: string]: unknown;
}

/** A state machine's States Language definition. */
interface Definition {
  StartAt: string;
  States: Record<string, State>;
  TimeoutSeconds: number;
}

/** The States Language definition of a target's state machine, with each function ARN written as `<LogicalId>`. */
function definitionOf(id: string, inStack: RegionStack = stack): Definition {
  const synthesized = inStack === stack ? template : usTemplate;
  const resource = resourceOf(synthesized, logicalIdOf(probeTargetOf(inStack, id).run.stateMachine));
  const [, parts] = (resource.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = parts
    .map((part) => (typeof part === 'string' ? part : `<${(part as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]}>`))
    .join('');
  return JSON.parse(text) as Definition;
}

/** The target of a schedule as synthesized: what it starts, as whom, with which input and retries. */
interface ScheduleTarget {
  Arn: unknown;
  RoleArn: unknown;
  Input: string;
  RetryPolicy: unknown;
}

/** The synthesized target of target `id`'s schedule. */
function scheduleTargetOf(id: string, inStack: RegionStack = stack): ScheduleTarget {
  const synthesized = inStack === stack ? template : usTemplate;
  const schedule = probeTargetOf(inStack, id).schedule.schedule;
  return resourceOf(synthesized, logicalIdOf(schedule)).Properties.Target as ScheduleTarget;
}

/** The run request target `id`'s schedule starts its state machine with. */
function scheduleInputOf(id: string, inStack: RegionStack = stack): RunRequest {
  return JSON.parse(scheduleTargetOf(id, inStack).Input) as RunRequest;
}

/** The states each shard iteration runs (the map's item processor). */
function iterationOf(id: string): { StartAt: string; States: Record<string, State> } {
  return (
    definitionOf(id).States.Shards as unknown as { ItemProcessor: { StartAt: string; States: Record<string, State> } }
  ).ItemProcessor;
}

const arnOf = (fn: { function: object }) => `<${logicalIdOf(fn.function as never)}>`;

/** Evaluates a JSONPath `Parameters` template over `input` (only `"key.$": "$.a.b"` references, as ours use). */
function applyParameters(parameters: unknown, input: unknown): unknown {
  if (typeof parameters !== 'object' || parameters === null) return parameters;
  return Object.fromEntries(
    Object.entries(parameters).map(([key, value]) => {
      if (!key.endsWith('.$')) return [key, applyParameters(value, input)];
      const path = String(value).replace(/^\$\.?/, '');
      const found =
        path === ''
          ? input
          : path.split('.').reduce<unknown>((node, field) => (node as Record<string, unknown>)[field], input);
      return [key.slice(0, -2), found];
    }),
  );
}

describe('ProbeStateMachine', () => {
  it(
    'waits its region offset when the input has one, then runs plan, the shard map (or, for a skipped run, ' +
      'nothing) and record',
    () => {
      const { StartAt, States } = definitionOf('chat');
      const chat = probeTarget('chat');
      expect(StartAt).toBe('Staggered');
      expect(States.Staggered).toMatchObject({
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.startOffsetSeconds', IsPresent: true },
              { Variable: '$.startOffsetSeconds', NumericGreaterThan: 0 },
            ],
            Next: 'StaggerWait',
          },
        ],
        Default: 'Plan',
      });
      expect(States.StaggerWait).toMatchObject({ Type: 'Wait', SecondsPath: '$.startOffsetSeconds', Next: 'Plan' });
      expect(States.Plan).toMatchObject({ Type: 'Task', Resource: arnOf(stack.plan), Next: 'LockHeld' });
      expect(States.LockHeld).toMatchObject({
        Type: 'Choice',
        Choices: [{ Variable: '$.skipped', IsPresent: true, Next: 'Record' }],
        Default: 'Shards',
      });
      expect(States.Shards).toMatchObject({
        Type: 'Map',
        ItemsPath: MAP_PATHS.items,
        ResultPath: MAP_PATHS.results,
        Next: 'Record',
      });
      expect(States.Record).toMatchObject({ Type: 'Task', Resource: arnOf(stack.record), End: true });
      expect(Object.keys(States).sort()).toEqual([
        'LockHeld',
        'Plan',
        'Record',
        'ReleaseLock',
        'RunFailed',
        'Shards',
        'StaggerWait',
        'Staggered',
      ]);
      expect(chat.run.shards).toBe(1);
    },
  );

  it(
    'releases the run lock through the record function when the map or the record step fails for good, then ' +
      'fails the execution with the error',
    () => {
      for (const id of ['chat', 'bulk']) {
        const { States } = definitionOf(id);
        const toRelease = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseLock' }];
        expect(States.Shards?.Catch).toEqual(toRelease);
        expect(States.Record?.Catch).toEqual(toRelease);
        expect(States.ReleaseLock).toMatchObject({
          Type: 'Task',
          Resource: arnOf(stack.record),
          ResultPath: null,
          Next: 'RunFailed',
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'RunFailed' }],
        });
        const failedState = { runId: 'run-9', target: { id }, error: { Error: 'States.Timeout', Cause: 'x' } };
        expect(applyParameters(States.ReleaseLock?.Parameters, failedState)).toEqual({
          releaseLock: { targetId: id, runId: 'run-9' },
        });
        expect(States.RunFailed).toEqual({
          Type: 'Fail',
          Comment: expect.any(String) as string,
          ErrorPath: '$.error.Error',
          CausePath: '$.error.Cause',
        });
      }
    },
  );

  it("hands the plan step the execution input and the map's shard count, which the schedule's plans", async () => {
    for (const id of ['chat', 'feed', 'bulk']) {
      const { States } = definitionOf(id);
      const maxConcurrency = Number(States.Shards?.MaxConcurrency);
      expect(States.Plan?.Parameters).toEqual({ 'request.$': '$', shardsAtOnce: maxConcurrency });
      const scheduleInput = scheduleInputOf(id);
      const event = applyParameters(States.Plan?.Parameters, scheduleInput);
      const planned = await planStep(event, {
        allowedHosts: testConfig().allowedHosts,
        locks: freeLocks,
        now: () => 0,
        newRunId: () => 'run-1',
        log: createLogger({}, () => undefined),
      });
      expect(planned.shardTasks).toHaveLength(maxConcurrency);
      // A plan edited to make one shard more than the map starts at once.
      const connections = scheduleInput.target.plan.stages.at(-1) ?? 0;
      const shardSize = Math.ceil(connections / (maxConcurrency + 1));
      const handStarted = { target: { ...scheduleInput.target, plan: { ...scheduleInput.target.plan, shardSize } } };
      await expect(
        planStep(applyParameters(States.Plan?.Parameters, handStarted), {
          allowedHosts: testConfig().allowedHosts,
          locks: freeLocks,
          now: () => 0,
          newRunId: () => 'run-2',
          log: createLogger({}, () => undefined),
        }),
      ).rejects.toThrow(`but the deployed state machine starts ${maxConcurrency} at once`);
    }
  });

  it('starts every shard at once in an inline Map up to 40 shards', () => {
    for (const id of ['chat', 'feed']) {
      const shards = shardCount(target(id).plan);
      expect(shards).toBeLessThanOrEqual(INLINE_MAP_MAX_CONCURRENCY);
      expect(definitionOf(id).States.Shards).toMatchObject({
        MaxConcurrency: shards,
        ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' } },
      });
    }
    expect(shardCount(target('feed').plan)).toBe(2);
  });

  it('starts every shard at once in a Distributed Map of standard child executions beyond 40 shards', () => {
    expect(shardCount(target('bulk').plan)).toBe(50);
    expect(definitionOf('bulk').States.Shards).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 50,
      ItemsPath: MAP_PATHS.items,
      ResultPath: MAP_PATHS.results,
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
    });
    const policies = actionsOfRole(template, logicalIdOf(probeTarget('bulk').run.stateMachine.role));
    expect(policies).toEqual(
      expect.arrayContaining(['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution']),
    );
    expect(actionsOfRole(template, logicalIdOf(probeTarget('chat').run.stateMachine.role))).not.toContain(
      'states:StartExecution',
    );
  });

  it('catches a failed or timed-out worker inside its iteration and never retries it', () => {
    for (const id of ['chat', 'bulk']) {
      const iteration = iterationOf(id);
      expect(iteration.StartAt).toBe('Worker');
      expect(iteration.States.Worker).toMatchObject({
        Type: 'Task',
        Resource: arnOf(probeTarget(id).worker),
        End: true,
      });
      expect(iteration.States.Worker?.Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: 'ShardFailed' },
      ]);
      expect(iteration.States.Worker?.Retry).toBeUndefined();
      expect(iteration.States.ShardFailed).toMatchObject({ Type: 'Pass', End: true });
    }
  });

  it('turns the caught error into a FailedShard naming the shard, the error and its cause', () => {
    const iteration = iterationOf('chat');
    const task = {
      runId: 'r-1',
      shard: { index: 3, newPerStage: [10], connectRate: 5, maxInFlight: 10 },
    } as unknown as ShardTask;
    const caught = { Error: 'Sandbox.Timedout', Cause: '{"errorMessage":"Task timed out after 289.00 seconds"}' };
    // Step Functions puts the caught error at the Catch's ResultPath, then runs the Pass state on that.
    const [{ ResultPath }] = iteration.States.Worker?.Catch as [{ ResultPath: string }];
    const withError = { ...task, [ResultPath.replace(/^\$\./, '')]: caught };
    const result = applyParameters(iteration.States.ShardFailed?.Parameters, withError) as FailedShard;
    expect(result).toEqual({ shard: 3, failed: { error: 'Sandbox.Timedout', cause: caught.Cause } });
    expect(isFailedShard(result)).toBe(true);
  });

  it('retries the idempotent record step on any error, with backoff', () => {
    expect(definitionOf('chat').States.Record?.Retry).toEqual([
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 },
    ]);
  });

  it('times the run out after its stagger wait, the plan, the workers and the record step could have finished', () => {
    for (const id of ['chat', 'feed', 'bulk']) {
      expect(definitionOf(id).TimeoutSeconds).toBe(stateMachineTimeoutSeconds(workerTimeoutSeconds(target(id).plan)));
    }
    expect(definitionOf('chat').TimeoutSeconds).toBe(30 + 300 + 289 + 515);
    // In its second region, chat's runs start a run's worst case plus a margin later: the timeout covers the wait.
    const offset = regionOffsetSeconds(target('chat'), 'us-east-1');
    expect(offset).toBe(runSpacingMinutes(target('chat').plan) * 60);
    expect(definitionOf('chat', usStack).TimeoutSeconds).toBe(offset + 30 + 300 + 289 + 515);
  });

  it('is named for its target, traced, and logs every event without payloads', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: names.stateMachine('chat'),
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [logicalIdOf(probeTarget('chat').run.node.findChild('Logs')), 'Arn'] },
            },
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/states/ws-ceiling-chat',
      RetentionInDays: 30,
    });
  });

  it('may invoke only its plan, worker and record functions', () => {
    const role = logicalIdOf(probeTarget('chat').run.stateMachine.role);
    const invoke = statementsOfRole(template, role).filter((statement) => statement.Action === 'lambda:InvokeFunction');
    const functions = [stack.plan, probeTarget('chat').worker, stack.record].map((fn) => logicalIdOf(fn.function));
    const resources = invoke
      .flatMap((statement) => [statement.Resource].flat())
      .map((resource) => JSON.stringify(resource));
    expect(resources.sort()).toEqual(
      functions
        .flatMap((id) => [{ 'Fn::GetAtt': [id, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [id, 'Arn'] }, ':*']] }])
        .map((resource) => JSON.stringify(resource))
        .sort(),
    );
  });
});

describe('ProbeSchedule', () => {
  it('schedules every target, enabled or not, on its cron in its time zone with no flexible window', () => {
    const schedules = resourcesOf(template, 'AWS::Scheduler::Schedule').map(([, schedule]) => schedule.Properties);
    expect(schedules.map((schedule) => schedule.Name).sort()).toEqual([
      'ws-ceiling-bulk',
      'ws-ceiling-chat',
      'ws-ceiling-feed',
    ]);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: names.schedule('chat'),
      GroupName: SCHEDULE_GROUP_NAME,
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: names.schedule('feed'),
      GroupName: SCHEDULE_GROUP_NAME,
      ScheduleExpression: 'cron(30 3 ? * MON,THU *)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'DISABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: SCHEDULE_GROUP_NAME });
  });

  it("starts the target's state machine with the validated target config, secrets by reference only", () => {
    for (const id of ['chat', 'feed']) {
      const schedule = scheduleTargetOf(id);
      expect(schedule.Arn).toEqual({ Ref: logicalIdOf(probeTarget(id).run.stateMachine) });
      const input = JSON.parse(schedule.Input) as RunRequest;
      expect(input).toEqual({ target: target(id), trigger: 'schedule' });
      expect(input).toEqual(scheduledRunRequest(target(id)));
      // The plan step validates the target again: what the schedule sends must pass unchanged.
      expect(parseTargetConfig(input.target, 'schedule input')).toEqual(input.target);
    }
    const chatInput = scheduleInputOf('chat');
    expect(chatInput.target.headers.Authorization).toEqual({ secretName: 'chat/probe-token', prefix: 'Bearer ' });
  });

  it("staggers a target's regions: the second region's schedule input waits a run's worst case plus a margin", () => {
    const spacing = runSpacingMinutes(target('chat').plan) * 60;
    expect(scheduleInputOf('chat')).toEqual({ target: target('chat'), trigger: 'schedule' });
    expect(scheduleInputOf('chat', usStack)).toEqual({
      target: target('chat'),
      trigger: 'schedule',
      startOffsetSeconds: spacing,
    });
    // 289-s workers: a run takes up to 60 + 30 + 300 + 289 + 515 s (19.9 min), plus 5 min, rounded up: 25 min.
    expect(spacing).toBe(25 * 60);
    // The same cron in both regions: the state machine does the waiting.
    const cron = (synthesized: Template, inStack: RegionStack) =>
      resourceOf(synthesized, logicalIdOf(probeTargetOf(inStack, 'chat').schedule.schedule)).Properties
        .ScheduleExpression;
    expect(cron(usTemplate, usStack)).toBe(cron(template, stack));
  });

  it(
    'retries a failed start 3 times, drops a start it cannot make within an hour into an encrypted dead-letter ' +
      'queue',
    () => {
      for (const id of ['chat', 'feed', 'bulk']) {
        const queue = logicalIdOf(probeTarget(id).schedule.deadLetters);
        expect(scheduleTargetOf(id).RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 3 });
        expect((scheduleTargetOf(id) as unknown as { DeadLetterConfig: unknown }).DeadLetterConfig).toEqual({
          Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
        });
        expect(resourceOf(template, queue).Properties).toEqual({
          SqsManagedSseEnabled: true,
          MessageRetentionPeriod: 1_209_600,
        });
      }
      template.resourceCountIs('AWS::SQS::Queue', 3);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Deny',
              Action: 'sqs:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              Resource: { 'Fn::GetAtt': [logicalIdOf(probeTarget('chat').schedule.deadLetters), 'Arn'] },
            },
          ],
        },
      });
    },
  );

  it("uses a role of its own that may only start its target's state machine and send to its dead letters", () => {
    const chat = probeTarget('chat');
    const role = logicalIdOf(chat.schedule.role);
    expect(scheduleTargetOf('chat').RoleArn).toEqual({ 'Fn::GetAtt': [role, 'Arn'] });
    expect(statementsOfRole(template, role)).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: logicalIdOf(chat.run.stateMachine) } },
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [logicalIdOf(chat.schedule.deadLetters), 'Arn'] },
      },
    ]);
    const trust = resourceOf(template, role).Properties.AssumeRolePolicyDocument as { Statement: Statement[] };
    expect(trust.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: {
          StringEquals: {
            'aws:SourceAccount': TEST_ACCOUNT,
            'aws:SourceArn': { 'Fn::GetAtt': [logicalIdOf(stack.node.findChild('Schedules')), 'Arn'] },
          },
        },
      },
    ]);
  });
});

describe('scheduledRunRequest', () => {
  it("marks the run as started by the schedule, with its region's start offset when it has one", () => {
    expect(scheduledRunRequest(target('chat'))).toEqual({ target: target('chat'), trigger: 'schedule' });
    expect(scheduledRunRequest(target('chat'), 1560)).toEqual({
      target: target('chat'),
      trigger: 'schedule',
      startOffsetSeconds: 1560,
    });
  });
});
