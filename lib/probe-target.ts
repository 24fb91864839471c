/**
 * Everything one target has in a region: its worker function, its run's
 * state machine, its schedule (starting at this region's offset, with a
 * dead-letter queue) and its alarms.
 */
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import { regionOffsetSeconds } from '../functions/config/region-starts.js';
import type { ResourceNames } from '../functions/config/resource-names.js';
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
  /** The deployment's names. */
  names: ResourceNames;
  /** The region this target is deployed in (its start offset depends on it). */
  region: string;
  /** Where the stack's deploy-mark function logs. */
  markerLogs: ILogGroup;
}

/** One target's worker, state machine, schedule and alarms. */
export class ProbeTarget extends Construct {
  /** The worker function that runs one shard of the target's runs. */
  readonly worker: WorkerFunction;
  /** The state machine of a run: stagger wait, plan, every shard at once, record. */
  readonly run: ProbeStateMachine;
  /** The schedule that starts the run on the target's cron. */
  readonly schedule: ProbeSchedule;
  /** The target's alarms. */
  readonly alarms: ProbeAlarms;

  constructor(scope: Construct, id: string, props: ProbeTargetProps) {
    super(scope, id);
    const { target, names } = props;
    const startOffsetSeconds = regionOffsetSeconds(target, props.region);
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
      names,
      startOffsetSeconds,
    });
    this.schedule = new ProbeSchedule(this, 'Schedule', {
      target,
      stateMachine: this.run.stateMachine,
      group: props.scheduleGroup,
      names,
      startOffsetSeconds,
    });
    this.alarms = new ProbeAlarms(this, 'Alarms', {
      target,
      topic: props.topic,
      names,
      stateMachine: this.run.stateMachine,
      worker: this.worker.function,
      deadLetters: this.schedule.deadLetters,
      markerLogs: props.markerLogs,
    });
  }
}
