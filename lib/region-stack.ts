/**
 * The stack of one region: the runs table, the shard-results bucket, the
 * on-call topic, the plan and record functions, the schedule group, one
 * ProbeTarget per target probed from the region, and the dashboard. It only
 * composes the constructs.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import type { WsCeilingConfig } from '../functions/config/config-types.js';
import { SCHEDULE_GROUP_NAME } from '../functions/steps/deployment-names.js';
import { AlarmTopic } from './alarm-topic.js';
import { ProbeDashboard } from './probe-dashboard.js';
import { PlanFunction, RecordFunction } from './probe-functions.js';
import { ProbeTarget } from './probe-target.js';
import { RunsTable } from './runs-table.js';
import { ShardResultsBucket } from './shard-results-bucket.js';

/** A region's stack settings. */
export interface RegionStackProps extends StackProps {
  /** The config with only the targets probed from this stack's region. */
  config: WsCeilingConfig;
}

/** Every ws-ceiling resource of one region. */
export class RegionStack extends Stack {
  /** The runs table: run items and stop requests of every target of the region. */
  readonly table: RunsTable;
  /** Where workers leave their shard results for the record step. */
  readonly bucket: ShardResultsBucket;
  /** The on-call topic every alarm of the region notifies. */
  readonly alarmTopic: AlarmTopic;
  /** The plan function every target's run starts with. */
  readonly plan: PlanFunction;
  /** The record function every target's run ends with. */
  readonly record: RecordFunction;
  /** One per target, in config order. */
  readonly targets: ProbeTarget[];
  /** The region's dashboard of every target's runs and alarms. */
  readonly dashboard: ProbeDashboard;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.table = new RunsTable(this, 'Runs');
    this.bucket = new ShardResultsBucket(this, 'ShardResults');
    this.alarmTopic = new AlarmTopic(this, 'OnCall', { onCall: config.onCall });
    this.plan = new PlanFunction(this, 'Plan', { allowedHosts: config.allowedHosts });
    this.record = new RecordFunction(this, 'Record', { table: this.table, bucket: this.bucket });
    const scheduleGroup = new ScheduleGroup(this, 'Schedules', { scheduleGroupName: SCHEDULE_GROUP_NAME });
    this.targets = config.targets.map(
      (target) =>
        new ProbeTarget(this, `Target-${target.id}`, {
          target,
          allowedHosts: config.allowedHosts,
          table: this.table,
          bucket: this.bucket,
          plan: this.plan,
          record: this.record,
          topic: this.alarmTopic.topic,
          scheduleGroup,
        }),
    );
    this.dashboard = new ProbeDashboard(this, 'Dashboard', {
      targets: config.targets,
      alarms: this.targets.flatMap((target) => target.alarms.all),
    });
  }
}
