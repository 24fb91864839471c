/**
 * The region's dashboard: for each target, its ceiling and drop onset over
 * time (with the floor, when declared) and whether each run succeeded, plus
 * the state of every ws-ceiling alarm of the region, those in ALARM first.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  AlarmStatusWidgetSortBy,
  Dashboard,
  GraphWidget,
  Stats,
  TextWidget,
  type IAlarm,
} from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import { METRIC } from '../functions/engine/metric-names.js';
import { targetMetric } from './probe-alarms.js';

/** Period of the dashboard's points: each run lands in its own hour. */
const DASHBOARD_PERIOD = Duration.hours(1);

/** What the dashboard shows. */
export interface ProbeDashboardProps {
  /** `ws-ceiling-<region>`, or `ws-ceiling-<name>-<region>` in a named deployment. */
  dashboardName: string;
  targets: TargetConfig[];
  alarms: IAlarm[];
}

/** The region's dashboard. */
export class ProbeDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ProbeDashboardProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(30),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          `# ws-ceiling in ${region}\nConcurrent WebSocket connections each target held (ceiling) and ` +
          'where drops began (drop onset), per run. A run that failed or was inconclusive has no ceiling ' +
          'point and a 0 in *Probe succeeded* (its probe-failed alarm fires); no point at all for longer ' +
          `than the target's expected window means no run reported (its probe-missing alarm fires).`,
        width: 24,
        height: 2,
      }),
    );
    for (const target of props.targets) {
      this.dashboard.addWidgets(
        new GraphWidget({
          title: `${target.id}: ceiling and drop onset (connections)`,
          width: 16,
          height: 6,
          left: [
            targetMetric(this, target.id, METRIC.ceiling, Stats.MINIMUM, DASHBOARD_PERIOD).with({ label: 'Ceiling' }),
            targetMetric(this, target.id, METRIC.dropOnset, Stats.MINIMUM, DASHBOARD_PERIOD).with({
              label: 'Drop onset',
            }),
          ],
          leftYAxis: { min: 0 },
          leftAnnotations: target.floor === undefined ? [] : [{ value: target.floor, label: `Floor ${target.floor}` }],
        }),
        new GraphWidget({
          title: `${target.id}: probe succeeded (1 / 0)`,
          width: 8,
          height: 6,
          left: [
            targetMetric(this, target.id, METRIC.probeSucceeded, Stats.MINIMUM, DASHBOARD_PERIOD).with({
              label: 'Probe succeeded',
            }),
          ],
          leftYAxis: { min: 0, max: 1 },
        }),
      );
    }
    if (props.alarms.length > 0) {
      this.dashboard.addWidgets(
        new AlarmStatusWidget({
          title:
            'ws-ceiling alarms: regressed, below floor, probe failed (last run), probe missing (no run), broken ' +
            'runs, schedule dead letters',
          alarms: props.alarms,
          width: 24,
          // Room for every target's alarms, firing ones first.
          height: 2 + Math.ceil(props.alarms.length / 4),
          sortBy: AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        }),
      );
    }
  }
}
