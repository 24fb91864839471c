/**
 * The alarms of one target in one region, each telling on-call what it
 * means and what to run next, all notifying the region's on-call topic.
 * On a run's result (ALARM and OK):
 * - regressed: the ceiling fell under baseline × (1 − regression tolerance);
 * - below floor: the ceiling fell under the declared floor (only with a floor);
 * - probe failed: the last run failed or was inconclusive;
 * these keep their state while no new run reports (a run is daily, not
 * continuous), so they return to OK only when a later run is back in bounds,
 * which can be a run started at once with `ws-ceiling invoke`.
 * On the probe itself:
 * - probe missing (ALARM and OK): no run reported within
 *   `schedule.expectedEveryHours` (missing data breaches, so silence pages);
 *   the deploy counts as a report (deployed-marker.ts), so it does not page
 *   before the first run was due;
 * - execution failed, timed out or aborted, worker errors and throttles
 *   (ALARM only): a run that broke, within minutes; these return to OK by
 *   themselves after a quiet period, which says nothing about the target;
 * - schedule dead letters (ALARM and OK): the scheduler could not start a run.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  Stats,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import type { AlarmKind, ResourceNames } from '../functions/config/resource-names.js';
import { regressionRatioThreshold } from '../functions/engine/baseline.js';
import { DIMENSION, METRIC, METRIC_NAMESPACE } from '../functions/engine/metric-names.js';
import { round } from '../functions/engine/units.js';
import { missingRunWindow } from './alarm-window.js';
import { DeployedMarker } from './deployed-marker.js';

/**
 * Period of the alarms on a run's result (regressed, below floor, probe failed): one run's datapoints fall in one
 * period.
 */
const RESULT_ALARM_PERIOD = Duration.hours(1);

/** Period of the alarms on a broken run (executions, worker errors, dead letters): a page within minutes. */
const EVENT_ALARM_PERIOD = Duration.minutes(5);

/** What a target's alarms need. */
export interface ProbeAlarmsProps {
  /** The validated target (its id, tolerances, floor, schedule and whether it is enabled). */
  target: TargetConfig;
  /** The region's on-call topic. */
  topic: ITopic;
  /** The deployment's names. */
  names: ResourceNames;
  /** The target's state machine, whose failed, timed-out and aborted executions page. */
  stateMachine: IStateMachine;
  /** The target's worker function, whose errors and throttles page. */
  worker: IFunction;
  /** The target's schedule's dead-letter queue, whose depth pages. */
  deadLetters: IQueue;
  /** Where the stack's deploy-mark function logs. */
  markerLogs: ILogGroup;
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

/** An alarm's kind, metric, threshold and wording, for the ones built alike. */
interface AlarmSpec {
  kind: AlarmKind;
  id: string;
  metric: IMetric;
  description: string;
}

/** A target's alarms on its runs' results, on missing runs, and on broken runs. */
export class ProbeAlarms extends Construct {
  /** Ceiling under baseline × (1 − regression tolerance). */
  readonly regressed: Alarm;
  /** Ceiling under the floor; absent when the target declares none. */
  readonly belowFloor?: Alarm;
  /** The last run failed or was inconclusive; OK again once a run succeeds. */
  readonly probeFailed: Alarm;
  /** No run reported within `schedule.expectedEveryHours`. */
  readonly probeMissing: Alarm;
  /** Failed, timed-out and aborted executions, worker errors and throttles: a broken run, at once. */
  readonly brokenRun: Alarm[];
  /** The scheduler could not start a run. */
  readonly scheduleDeadLetters: Alarm;
  /** The deploy's datapoint that keeps probe-missing quiet until the first run was due. */
  readonly deployedMarker: DeployedMarker;

  constructor(scope: Construct, id: string, props: ProbeAlarmsProps) {
    super(scope, id);
    const { target, names } = props;
    const region = Stack.of(this).region;
    const commands = nextCommands(target.id, region, names);
    const of = `${target.id} probed from ${region}`;
    // The verdict's own threshold, so a run judged `ok` never fires the alarm.
    const ratio = regressionRatioThreshold(target.regressionTolerance);

    this.regressed = this.resultAlarm(props, 'regressed', 'Regressed', {
      description:
        `ws-ceiling: the WebSocket ceiling of ${of} fell under ${round(ratio * 100, 1)} % of its baseline ` +
        `(the median of its last ${target.baselineRuns} completed runs): the endpoint now holds fewer concurrent ` +
        'connections than it did. The record step sent the run, its cause and the report link to this topic. ' +
        `It returns to OK when a later run is back within tolerance. ${commands}`,
      metric: targetMetric(this, target.id, METRIC.ceilingToBaseline, Stats.MINIMUM, RESULT_ALARM_PERIOD),
      threshold: ratio,
    });

    if (target.floor !== undefined) {
      this.belowFloor = this.resultAlarm(props, 'below-floor', 'BelowFloor', {
        description:
          `ws-ceiling: the WebSocket ceiling of ${of} is under its declared floor of ${target.floor} concurrent ` +
          'connections (the pre-launch requirement). It returns to OK when a later run holds the floor. ' +
          commands,
        metric: targetMetric(this, target.id, METRIC.ceiling, Stats.MINIMUM, RESULT_ALARM_PERIOD),
        threshold: target.floor,
      });
    }

    this.probeFailed = this.resultAlarm(props, 'probe-failed', 'ProbeFailed', {
      description:
        `ws-ceiling: the last run of ${of} did not succeed: it failed (config error, unreachable) or was ` +
        'inconclusive (probe-limited, a worker failed or timed out or started late, stopped). The ceiling is ' +
        "unknown, not low. Read the run's reason in history or in the message sent to this topic, fix the probe " +
        `or the target, then run it again with invoke: the alarm returns to OK when a run succeeds. ${commands}`,
      metric: targetMetric(this, target.id, METRIC.probeSucceeded, Stats.MINIMUM, RESULT_ALARM_PERIOD),
      threshold: 1,
    });

    const window = missingRunWindow(target.schedule.expectedEveryHours);
    this.probeMissing = this.probeMissingAlarm(props, window, commands);
    this.deployedMarker = new DeployedMarker(this, 'Deployed', {
      targetId: target.id,
      alarmFingerprint:
        `${names.alarm(target.id, 'probe-missing')}:${window.periodSeconds}x${window.evaluationPeriods}:` +
        (target.enabled ? 'enabled' : 'disabled'),
      logGroup: props.markerLogs,
    });

    const stateMachine = names.stateMachine(target.id);
    const executions = `the executions of the state machine ${stateMachine} in the Step Functions console`;
    const brokenSpecs: AlarmSpec[] = [
      {
        kind: 'execution-failed',
        id: 'ExecutionFailed',
        metric: props.stateMachine.metricFailed({ period: EVENT_ALARM_PERIOD, statistic: Stats.SUM }),
        description:
          `ws-ceiling: a run of ${of} failed before it was recorded (the plan refused it, or the record step ` +
          `failed after its retries), so no verdict was stored. Open ${executions}: the failed execution's ` +
          'error names the step and the cause (a bad target field, a limit, an AWS error). Its run lock was ' +
          `released. Fix it, then invoke. ${commands}`,
      },
      {
        kind: 'execution-timed-out',
        id: 'ExecutionTimedOut',
        metric: props.stateMachine.metricTimedOut({ period: EVENT_ALARM_PERIOD, statistic: Stats.SUM }),
        description:
          `ws-ceiling: a run of ${of} ran past its state machine's timeout and was not recorded. Open ` +
          `${executions} to see which step hung (usually the record step or a Lambda service problem). Its run ` +
          `lock expires on its own at the same time. ${commands}`,
      },
      {
        kind: 'execution-aborted',
        id: 'ExecutionAborted',
        metric: props.stateMachine.metricAborted({ period: EVENT_ALARM_PERIOD, statistic: Stats.SUM }),
        description:
          `ws-ceiling: a run of ${of} was aborted (StopExecution, e.g. ws-ceiling stop --force) and not ` +
          'recorded. If nobody on the team stopped it, find who did in CloudTrail. The next scheduled run may be ' +
          `skipped until the aborted run's lock expires. ${commands}`,
      },
      {
        kind: 'worker-errors',
        id: 'WorkerErrors',
        metric: props.worker.metricErrors({ period: EVENT_ALARM_PERIOD, statistic: Stats.SUM }),
        description:
          `ws-ceiling: a worker Lambda of ${of} failed or timed out, so its run is inconclusive (never a low ` +
          "ceiling). Read the worker's log group for the error (a secret it cannot read, a host not allowed, a " +
          `crash), fix it, then invoke. ${commands}`,
      },
      {
        kind: 'worker-throttles',
        id: 'WorkerThrottles',
        metric: props.worker.metricThrottles({ period: EVENT_ALARM_PERIOD, statistic: Stats.SUM }),
        description:
          `ws-ceiling: Lambda throttled a worker of ${of}: the account or the function has too little ` +
          "concurrency for the workers a run starts at once, so the run is inconclusive. Check the account's " +
          'concurrency (ws-ceiling config check <file> --region R reads it), set reservedConcurrency for the ' +
          `target, or ask AWS for more. ${commands}`,
      },
    ];
    this.brokenRun = brokenSpecs.map((spec) => this.brokenRunAlarm(props, spec));

    this.scheduleDeadLetters = new Alarm(this, 'ScheduleDeadLetters', {
      alarmName: names.alarm(target.id, 'schedule-dead-letters'),
      alarmDescription:
        `ws-ceiling: EventBridge Scheduler could not start a run of ${of} (after its retries, or within an ` +
        "hour): the event is in the schedule's dead-letter queue, and no run happened. Read the message in the " +
        "queue (its attributes carry the error, e.g. the schedule's role may not start the state machine), fix " +
        `it, delete the message (the alarm returns to OK) and invoke. ${commands}`,
      metric: props.deadLetters.metricApproximateNumberOfMessagesVisible({
        period: EVENT_ALARM_PERIOD,
        statistic: Stats.MAXIMUM,
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      actionsEnabled: target.enabled,
    });

    const action = new SnsAction(props.topic);
    for (const alarm of [...this.resultAlarms, this.probeMissing, this.scheduleDeadLetters]) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    for (const alarm of this.brokenRun) alarm.addAlarmAction(action);
  }

  /** Every alarm of the target. */
  get all(): Alarm[] {
    return [...this.resultAlarms, this.probeMissing, ...this.brokenRun, this.scheduleDeadLetters];
  }

  /** The alarms on a run's result. */
  private get resultAlarms(): Alarm[] {
    return [this.regressed, ...(this.belowFloor ? [this.belowFloor] : []), this.probeFailed];
  }

  /** An alarm on a run's result: under `threshold`, missing data ignored. */
  private resultAlarm(
    props: ProbeAlarmsProps,
    kind: AlarmKind,
    id: string,
    spec: { description: string; metric: IMetric; threshold: number },
  ): Alarm {
    return new Alarm(this, id, {
      alarmName: props.names.alarm(props.target.id, kind),
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: TreatMissingData.IGNORE,
      actionsEnabled: props.target.enabled,
    });
  }

  /**
   * No run reported (`ProbeSucceeded` samples) and no deploy (`ProbeDeployed`)
   * in any period of the target's window: missing data breaches.
   */
  private probeMissingAlarm(
    props: ProbeAlarmsProps,
    window: { periodSeconds: number; evaluationPeriods: number },
    commands: string,
  ): Alarm {
    const { target, names } = props;
    const period = Duration.seconds(window.periodSeconds);
    const region = Stack.of(this).region;
    return new Alarm(this, 'ProbeMissing', {
      alarmName: names.alarm(target.id, 'probe-missing'),
      alarmDescription:
        `ws-ceiling: no run of ${target.id} probed from ${region} has reported for ` +
        `${target.schedule.expectedEveryHours} h, the longest its schedule (${target.schedule.cron}, ` +
        `${target.schedule.timeZone}) may go between runs. The schedule may be paused, or every start ` +
        `failed (see the schedule-dead-letters alarm), or the run failed before its record step (the executions ` +
        `of the state machine ${names.stateMachine(target.id)}), or its metrics were not published. The deploy ` +
        `counts as a report, so this does not fire before the first run was due. It returns to OK when a run ` +
        `reports. ${commands}`,
      metric: new MathExpression({
        expression: 'SUM([runs, deployed])',
        usingMetrics: {
          runs: targetMetric(this, target.id, METRIC.probeSucceeded, Stats.SAMPLE_COUNT, period),
          deployed: targetMetric(this, target.id, METRIC.probeDeployed, Stats.SAMPLE_COUNT, period),
        },
        period,
        label: 'Runs reported, and the deploy',
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: window.evaluationPeriods,
      datapointsToAlarm: window.evaluationPeriods,
      treatMissingData: TreatMissingData.BREACHING,
      actionsEnabled: target.enabled,
    });
  }

  /** An alarm on a broken run: one event in five minutes; no data is nothing wrong. */
  private brokenRunAlarm(props: ProbeAlarmsProps, spec: AlarmSpec): Alarm {
    return new Alarm(this, spec.id, {
      alarmName: props.names.alarm(props.target.id, spec.kind),
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      actionsEnabled: props.target.enabled,
    });
  }
}

/** The commands on-call runs next, in every alarm description. */
function nextCommands(targetId: string, region: string, names: ResourceNames): string {
  const where = `--region ${region}${names.deployment === undefined ? '' : ` --deployment ${names.deployment}`}`;
  return (
    `Next: \`ws-ceiling history ${where} --target-id ${targetId}\` (the runs, their cause and baseline), ` +
    `\`ws-ceiling invoke --target-id ${targetId} ${where}\` (run again now and wait for the verdict), ` +
    `\`ws-ceiling pause --target-id ${targetId} ${where}\` (stop the schedule while you investigate).`
  );
}
