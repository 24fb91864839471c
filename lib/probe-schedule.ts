/**
 * The EventBridge Scheduler schedule of one target in one region: starts the
 * target's state machine on its cron in its time zone, with the validated
 * target config and this region's start offset as the run's input
 * (`RunRequest`): the state machine waits the offset, so the target's
 * regions take turns. Disabled targets keep their schedule, disabled. A
 * start the scheduler cannot make (after its retries, or once it is an hour
 * late) goes to the schedule's dead-letter queue, an encrypted SQS queue
 * whose depth the target's schedule-dead-letters alarm pages on. The
 * schedule's role may only start that one state machine and send to that
 * queue.
 */
import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
  TimeWindow,
  type IScheduleGroup,
} from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import type { ResourceNames } from '../functions/config/resource-names.js';
import type { RunRequest } from '../functions/steps/step-payloads.js';
import { acknowledgeRule } from './nag-acknowledgements.js';

/** A start that cannot be made within this long is dropped to the dead-letter queue. */
const SCHEDULE_MAX_EVENT_AGE = Duration.hours(1);

/** Retries of a failed StartExecution call. */
const SCHEDULE_RETRY_ATTEMPTS = 3;

/** How long a dead letter stays in the queue: SQS's longest, time for on-call to read it. */
const DEAD_LETTER_RETENTION = Duration.days(14);

/** What a target's schedule needs. */
export interface ProbeScheduleProps {
  target: TargetConfig;
  stateMachine: IStateMachine;
  group: IScheduleGroup;
  names: ResourceNames;
  /** This region's start offset after each cron time, seconds (0 for the first region). */
  startOffsetSeconds: number;
}

/** The input a schedule gives every run of `target` in a region whose runs start `startOffsetSeconds` late. */
export function scheduledRunRequest(target: TargetConfig, startOffsetSeconds = 0): RunRequest {
  return { target, trigger: 'schedule', ...(startOffsetSeconds > 0 ? { startOffsetSeconds } : {}) };
}

/** One target's schedule, its start-only role and its dead-letter queue. */
export class ProbeSchedule extends Construct {
  /** The schedule (named `names.schedule(target.id)` in the deployment's group). */
  readonly schedule: Schedule;
  /** The role the scheduler assumes to start the run. */
  readonly role: Role;
  /** Where starts the scheduler could not make go. */
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: ProbeScheduleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.role = new Role(this, 'Role', {
      description: `Lets EventBridge Scheduler start the ws-ceiling run of ${props.target.id}, and nothing else`,
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': props.group.scheduleGroupArn },
        },
      }),
    });
    this.deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
    acknowledgeRule(
      this.deadLetters,
      'SQS3',
      `This queue is the dead-letter queue of the schedule of ${props.target.id}: nothing consumes it, and its ` +
        'depth alarm pages on-call',
    );
    const { cron, timeZone } = props.target.schedule;
    this.schedule = new Schedule(this, 'Schedule', {
      scheduleName: props.names.schedule(props.target.id),
      scheduleGroup: props.group,
      description: `ws-ceiling run of ${props.target.id}`,
      schedule: ScheduleExpression.expression(`cron(${cron})`, TimeZone.of(timeZone)),
      enabled: props.target.enabled,
      timeWindow: TimeWindow.off(),
      target: new StepFunctionsStartExecution(props.stateMachine, {
        role: this.role,
        input: ScheduleTargetInput.fromObject(scheduledRunRequest(props.target, props.startOffsetSeconds)),
        maxEventAge: SCHEDULE_MAX_EVENT_AGE,
        retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        deadLetterQueue: this.deadLetters,
      }),
    });
  }
}
