/**
 * The stack of one region: the runs table, the shard-results bucket, the
 * on-call topic, the plan and record functions, the schedule group, one
 * ProbeTarget per target probed from the region, and the dashboard, all
 * under the deployment's names. It only composes the constructs.
 */
import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import type { WsCeilingConfig } from '../functions/config/config-types.js';
import { resourceNames, type ResourceNames } from '../functions/config/resource-names.js';
import { AlarmTopic } from './alarm-topic.js';
import { ProbeDashboard } from './probe-dashboard.js';
import { FUNCTION_LOG_RETENTION } from './probe-function.js';
import { PlanFunction, RecordFunction } from './probe-functions.js';
import { ProbeTarget } from './probe-target.js';
import { RunsTable } from './runs-table.js';
import { ShardResultsBucket } from './shard-results-bucket.js';

/** A region's stack settings. */
export interface RegionStackProps extends StackProps {
  /** The config with only the targets probed from this stack's region. */
  config: WsCeilingConfig;
  /** The region (the stack's env region, which may be left as a token by CDK). */
  region: string;
}

/** Every ws-ceiling resource of one region. */
export class RegionStack extends Stack {
  /** The deployment's names. */
  readonly names: ResourceNames;
  /** The runs table: run items, stop requests and run locks of every target of the region. */
  readonly table: RunsTable;
  /** Where workers leave their shard results for the record step, and where reports are kept. */
  readonly bucket: ShardResultsBucket;
  /** The on-call topic every alarm and run message of the region goes to. */
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
    this.names = resourceNames(config.name);
    this.table = new RunsTable(this, 'Runs', { tableName: this.names.runsTable });
    this.bucket = new ShardResultsBucket(this, 'ShardResults');
    this.alarmTopic = new AlarmTopic(this, 'OnCall', { onCall: config.onCall, alarmPrefix: this.names.alarmPrefix });
    this.plan = new PlanFunction(this, 'Plan', { allowedHosts: config.allowedHosts, table: this.table });
    this.record = new RecordFunction(this, 'Record', {
      table: this.table,
      bucket: this.bucket,
      topic: this.alarmTopic.topic,
      ...(config.name !== undefined ? { deployment: config.name } : {}),
    });
    const scheduleGroup = new ScheduleGroup(this, 'Schedules', { scheduleGroupName: this.names.scheduleGroup });
    const markerLogs = new LogGroup(this, 'DeployMarkLogs', {
      retention: FUNCTION_LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
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
          names: this.names,
          region: props.region,
          markerLogs,
        }),
    );
    this.dashboard = new ProbeDashboard(this, 'Dashboard', {
      dashboardName: this.names.dashboard(props.region),
      targets: config.targets,
      alarms: this.targets.flatMap((target) => target.alarms.all),
    });
  }
}
