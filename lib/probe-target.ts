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

/** The region's shared parts a target uses. */
export interface ProbeTargetProps {
  target: TargetConfig;
  allowedHosts: string[];
  table: RunsTable;
  bucket: ShardResultsBucket;
  plan: PlanFunction;
  record: RecordFunction;
  topic: ITopic;
  scheduleGroup: IScheduleGroup;
}

/** One target's worker, state machine, schedule and alarms. */
export class ProbeTarget extends Construct {
  readonly worker: WorkerFunction;
  readonly run: ProbeStateMachine;
  readonly schedule: ProbeSchedule;
  readonly alarms: ProbeAlarms;

  constructor(scope: Construct, id: string, props: ProbeTargetProps) {
    super(scope, id);
    const { target } = props;
    this.worker = new WorkerFunction(this, 'Worker', { target, allowedHosts: props.allowedHosts, table: props.table, bucket: props.bucket });
    this.run = new ProbeStateMachine(this, 'Run', {
      target,
      plan: props.plan.function,
      worker: this.worker.function,
      record: props.record.function,
    });
    this.schedule = new ProbeSchedule(this, 'Schedule', { target, stateMachine: this.run.stateMachine, group: props.scheduleGroup });
    this.alarms = new ProbeAlarms(this, 'Alarms', { target, topic: props.topic });
  }
}
