/**
 * The EventBridge Scheduler schedule of one target: starts the target's state
 * machine on its cron in its time zone, with the validated target config as
 * the run's input (`RunRequest`). Disabled targets keep their schedule,
 * disabled. The schedule's role may only start that one state machine.
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
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import { scheduleName } from '../functions/steps/deployment-names.js';
import type { RunRequest } from '../functions/steps/step-payloads.js';

/** A start that cannot be made within this long is dropped (the probe-missing alarm then reports the missing run). */
const SCHEDULE_MAX_EVENT_AGE = Duration.hours(1);

/** Retries of a failed StartExecution call. */
const SCHEDULE_RETRY_ATTEMPTS = 3;

/** What a target's schedule needs. */
export interface ProbeScheduleProps {
  target: TargetConfig;
  stateMachine: IStateMachine;
  group: IScheduleGroup;
}

/** The input a schedule gives every run of `target`. */
export function scheduledRunRequest(target: TargetConfig): RunRequest {
  return { target, trigger: 'schedule' };
}

/** One target's schedule and its start-only role. */
export class ProbeSchedule extends Construct {
  /** The schedule (named `scheduleName(target.id)` in the ws-ceiling group). */
  readonly schedule: Schedule;
  /** The role the scheduler assumes to start the run. */
  readonly role: Role;

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
    const { cron, timeZone } = props.target.schedule;
    this.schedule = new Schedule(this, 'Schedule', {
      scheduleName: scheduleName(props.target.id),
      scheduleGroup: props.group,
      description: `ws-ceiling run of ${props.target.id}`,
      schedule: ScheduleExpression.expression(`cron(${cron})`, TimeZone.of(timeZone)),
      enabled: props.target.enabled,
      timeWindow: TimeWindow.off(),
      target: new StepFunctionsStartExecution(props.stateMachine, {
        role: this.role,
        input: ScheduleTargetInput.fromObject(scheduledRunRequest(props.target)),
        maxEventAge: SCHEDULE_MAX_EVENT_AGE,
        retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
      }),
    });
  }
}
