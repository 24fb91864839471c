/**
 * Everything one target has in a region: its worker function, its run's
 * state machine, its schedule and its alarms.
 */
import type { IScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import { ProbeAlarms } from './probe-alarms.js';
import { WorkerFunction, type PlanFunction, type RecordFunction } from './probe-functions.js';
import { ProbeSchedule } from './probe-schedule.js';
import { ProbeStateMachine } from './probe-state-machine.js';
import type { RunsTable } from './runs-table.js';
import type { ShardResultsBucket } from './shard-results-bucket.js';

/** The target and the region's shared parts it uses. */
export interface ProbeTargetProps {
  /** The validated target. */
  target: TargetConfig;
  /** The config's host allowlist, checked again by the worker. */
  allowedHosts: string[];
  /** The runs table (the worker reads its stop request there). */
  table: RunsTable;
  /** The shard-results bucket (the worker writes under its target's prefix). */
  bucket: ShardResultsBucket;
  /** The region's plan function, the first state of the run. */
  plan: PlanFunction;
  /** The region's record function, the last state of the run. */
  record: RecordFunction;
  /** The on-call topic the target's alarms notify. */
  topic: ITopic;
  /** The region's schedule group the target's schedule belongs to. */
  scheduleGroup: IScheduleGroup;
}

/** One target's worker, state machine, schedule and alarms. */
export class ProbeTarget extends Construct {
  /** The worker function that runs one shard of the target's runs. */
  readonly worker: WorkerFunction;
  /** The state machine of a run: plan, every shard at once, record. */
  readonly run: ProbeStateMachine;
  /** The schedule that starts the run on the target's cron. */
  readonly schedule: ProbeSchedule;
  /** The target's regression, floor, probe-failed and probe-missing alarms. */
  readonly alarms: ProbeAlarms;

  constructor(scope: Construct, id: string, props: ProbeTargetProps) {
    super(scope, id);
    const { target } = props;
    this.worker = new WorkerFunction(this, 'Worker', {
      target,
      allowedHosts: props.allowedHosts,
      table: props.table,
      bucket: props.bucket,
    });
    this.run = new ProbeStateMachine(this, 'Run', {
      target,
      plan: props.plan.function,
      worker: this.worker.function,
      record: props.record.function,
    });
    this.schedule = new ProbeSchedule(this, 'Schedule', {
      target,
      stateMachine: this.run.stateMachine,
      group: props.scheduleGroup,
    });
    this.alarms = new ProbeAlarms(this, 'Alarms', { target, topic: props.topic });
  }
}
