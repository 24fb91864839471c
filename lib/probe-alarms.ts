/**
 * The alarms of one target, all notifying the region's on-call topic (on
 * ALARM and on OK), each telling on-call what it means and what to run next:
 * - regressed: the ceiling fell under baseline × (1 − regression tolerance);
 * - below floor: the ceiling fell under the declared floor (only with a floor);
 * - probe failed: the last run failed or was inconclusive;
 * - probe missing: no run reported within `schedule.expectedEveryHours`
 *   (missing data breaches, so silence pages).
 * The first three keep their state while no new run reports (a run is daily,
 * not continuous), so they return to OK only when a later run is back in
 * bounds, which can be a run started at once with `ws-ceiling invoke`.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import { regressionRatioThreshold } from '../functions/engine/baseline.js';
import { stateMachineName } from '../functions/steps/deployment-names.js';
import { DIMENSION, METRIC, METRIC_NAMESPACE } from '../functions/engine/metric-names.js';
import { round } from '../functions/engine/units.js';
import { alarmName } from './alarm-names.js';
import { missingRunWindow } from './alarm-window.js';

/**
 * Period of the alarms on a run's result (regressed, below floor, probe failed): one run's datapoints fall in one
 * period.
 */
const RESULT_ALARM_PERIOD = Duration.hours(1);

/** What a target's alarms need. */
export interface ProbeAlarmsProps {
  /** The validated target (its id, tolerances, floor, schedule and whether it is enabled). */
  target: TargetConfig;
  /** The region's on-call topic, notified on ALARM and on OK. */
  topic: ITopic;
}

/** A ws-ceiling metric of one target in this region. */
export function targetMetric(
  scope: Construct,
  targetId: string,
  metricName: string,
  statistic: string,
  period: Duration,
): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { [DIMENSION.target]: targetId, [DIMENSION.region]: Stack.of(scope).region },
    statistic,
    period,
  });
}

/** A target's regression, floor, probe-failed and probe-missing alarms. */
export class ProbeAlarms extends Construct {
  /** Ceiling under baseline × (1 − regression tolerance). */
  readonly regressed: Alarm;
  /** Ceiling under the floor; absent when the target declares none. */
  readonly belowFloor?: Alarm;
  /** The last run failed or was inconclusive; OK again once a run succeeds. */
  readonly probeFailed: Alarm;
  /** No run reported within `schedule.expectedEveryHours`. */
  readonly probeMissing: Alarm;

  constructor(scope: Construct, id: string, props: ProbeAlarmsProps) {
    super(scope, id);
    const { target } = props;
    const region = Stack.of(this).region;
    const commands = nextCommands(target.id, region);
    // The verdict's own threshold, so a run judged `ok` never fires the alarm.
    const ratio = regressionRatioThreshold(target.regressionTolerance);

    this.regressed = new Alarm(this, 'Regressed', {
      alarmName: alarmName(target.id, 'regressed'),
      alarmDescription:
        `ws-ceiling: the WebSocket ceiling of ${target.id} probed from ${region} fell under ${round(ratio * 100, 1)}` +
        ' % of its baseline ' +
        `(the median of its last ${target.baselineRuns} completed runs): the endpoint now holds fewer concurrent ` +
        'connections than it did. ' +
        `It returns to OK when a later run is back within tolerance. ${commands}`,
      metric: targetMetric(this, target.id, METRIC.ceilingToBaseline, Stats.MINIMUM, RESULT_ALARM_PERIOD),
      threshold: ratio,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.IGNORE,
      actionsEnabled: target.enabled,
    });

    if (target.floor !== undefined) {
      this.belowFloor = new Alarm(this, 'BelowFloor', {
        alarmName: alarmName(target.id, 'below-floor'),
        alarmDescription:
          `ws-ceiling: the WebSocket ceiling of ${target.id} probed from ${region} is under its declared floor ` +
          `of ${target.floor} ` +
          'concurrent connections (the pre-launch requirement). It returns to OK when a later run holds the ' +
          `floor. ${commands}`,
        metric: targetMetric(this, target.id, METRIC.ceiling, Stats.MINIMUM, RESULT_ALARM_PERIOD),
        threshold: target.floor,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.IGNORE,
        actionsEnabled: target.enabled,
      });
    }

    this.probeFailed = new Alarm(this, 'ProbeFailed', {
      alarmName: alarmName(target.id, 'probe-failed'),
      alarmDescription:
        `ws-ceiling: the last run of ${target.id} probed from ${region} did not succeed: it failed (config ` +
        'error, unreachable) or was inconclusive ' +
        `(probe-limited, a worker failed or timed out, stopped). The ceiling is unknown, not low. ` +
        `Read the run's reason in history, fix the probe or the target, then run it again with invoke: the alarm ` +
        `returns to OK when a run succeeds. ${commands}`,
      metric: targetMetric(this, target.id, METRIC.probeSucceeded, Stats.MINIMUM, RESULT_ALARM_PERIOD),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.IGNORE,
      actionsEnabled: target.enabled,
    });

    const window = missingRunWindow(target.schedule.expectedEveryHours);
    this.probeMissing = new Alarm(this, 'ProbeMissing', {
      alarmName: alarmName(target.id, 'probe-missing'),
      alarmDescription:
        `ws-ceiling: no run of ${target.id} probed from ${region} has reported ` +
        `for ${target.schedule.expectedEveryHours} h, ` +
        `the longest its schedule (${target.schedule.cron}, ${target.schedule.timeZone}) may go between runs. ` +
        'The schedule may be paused, the run may have failed before its record step (see the executions of the ' +
        `state machine ${stateMachineName(target.id)}), ` +
        `or its metrics were not published. It returns to OK when a run reports. ${commands}`,
      metric: targetMetric(
        this,
        target.id,
        METRIC.probeSucceeded,
        Stats.SAMPLE_COUNT,
        Duration.seconds(window.periodSeconds),
      ),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: window.evaluationPeriods,
      datapointsToAlarm: window.evaluationPeriods,
      treatMissingData: TreatMissingData.BREACHING,
      actionsEnabled: target.enabled,
    });

    for (const alarm of this.all) {
      alarm.addAlarmAction(new SnsAction(props.topic));
      alarm.addOkAction(new SnsAction(props.topic));
    }
  }

  /** Every alarm of the target. */
  get all(): Alarm[] {
    return [this.regressed, ...(this.belowFloor ? [this.belowFloor] : []), this.probeFailed, this.probeMissing];
  }
}

/** The commands on-call runs next, in every alarm description. */
function nextCommands(targetId: string, region: string): string {
  return (
    `Next: \`ws-ceiling history --region ${region} --target-id ${targetId}\` (the runs, their cause and baseline), ` +
    `\`ws-ceiling invoke --target-id ${targetId} --region ${region}\` (run again now and wait for the verdict), ` +
    `\`ws-ceiling pause --target-id ${targetId} --region ${region}\` (stop the schedule while you investigate).`
  );
}
