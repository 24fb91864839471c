import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config/target-config.js';
import { ceilingRatio, isRegression } from '../../functions/engine/baseline.js';
import { DIMENSION, METRIC, METRIC_NAMESPACE } from '../../functions/engine/metric-names.js';
import { resourceNames, type AlarmKind } from '../../functions/config/resource-names.js';
import type { RegionStack } from '../../lib/region-stack.js';
import {
  buildApp,
  logicalIdOf,
  probeTargetOf,
  resourcesOf,
  stackOf,
  TEST_ACCOUNT,
  TEST_REGION,
  removeAssemblies,
} from '../support/cdk.js';

let stack: RegionStack;
let template: Template;

const names = resourceNames();
const alarmName = (targetId: string, kind: AlarmKind) => names.alarm(targetId, kind);

/** The alarms on a broken run, which notify on ALARM only. */
const BROKEN_RUN_KINDS = [
  'execution-failed',
  'execution-timed-out',
  'execution-aborted',
  'worker-errors',
  'worker-throttles',
] as const;

beforeAll(() => {
  stack = stackOf(buildApp());
  template = Template.fromStack(stack);
});

afterAll(removeAssemblies);

/** The synthesized properties of the alarm named `name`. */
function alarm(name: string): Record<string, unknown> {
  const found = resourcesOf(template, 'AWS::CloudWatch::Alarm').find(
    ([, resource]) => resource.Properties.AlarmName === name,
  );
  if (!found) throw new Error(`no alarm ${name}`);
  return found[1].Properties;
}

const dimensions = (targetId: string) => [
  { Name: DIMENSION.region, Value: TEST_REGION },
  { Name: DIMENSION.target, Value: targetId },
];
const topic = () => ({ Ref: logicalIdOf(stack.alarmTopic.topic) });

describe('ProbeAlarms', () => {
  it(
    'gives each target regression, probe-failed, probe-missing, broken-run and dead-letter alarms and, with a ' +
      'floor only, below-floor',
    () => {
      const alarmNames = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(
        ([, resource]) => resource.Properties.AlarmName,
      );
      const kinds = (id: string, floor: boolean) => [
        ...(floor ? [`ws-ceiling-${id}-below-floor`] : []),
        ...BROKEN_RUN_KINDS.map((kind) => `ws-ceiling-${id}-${kind}`),
        `ws-ceiling-${id}-probe-failed`,
        `ws-ceiling-${id}-probe-missing`,
        `ws-ceiling-${id}-regressed`,
        `ws-ceiling-${id}-schedule-dead-letters`,
      ];
      expect(alarmNames.sort()).toEqual(
        [...kinds('bulk', false), ...kinds('chat', true), ...kinds('feed', false)].sort(),
      );
    },
  );

  it('alarms when the ceiling falls under baseline × (1 − regression tolerance), keeping its state across runs', () => {
    expect(alarm(alarmName('chat', 'regressed'))).toMatchObject({
      Namespace: METRIC_NAMESPACE,
      MetricName: METRIC.ceilingToBaseline,
      Dimensions: dimensions('chat'),
      Statistic: 'Minimum',
      Period: 3600,
      EvaluationPeriods: 1,
      Threshold: 0.85,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'ignore',
    });
    expect(alarm(alarmName('feed', 'regressed'))).toMatchObject({
      MetricName: METRIC.ceilingToBaseline,
      Dimensions: dimensions('feed'),
      Threshold: 0.9,
    });
  });

  it('alarms when the ceiling falls under the declared floor', () => {
    expect(alarm(alarmName('chat', 'below-floor'))).toMatchObject({
      Namespace: METRIC_NAMESPACE,
      MetricName: METRIC.ceiling,
      Dimensions: dimensions('chat'),
      Statistic: 'Minimum',
      Period: 3600,
      EvaluationPeriods: 1,
      Threshold: 150,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'ignore',
    });
  });

  it('alarms on the first failed or inconclusive run, clears on the next successful one, whatever the window', () => {
    for (const id of ['chat', 'feed', 'bulk']) {
      expect(alarm(alarmName(id, 'probe-failed'))).toMatchObject({
        Namespace: METRIC_NAMESPACE,
        MetricName: METRIC.probeSucceeded,
        Dimensions: dimensions(id),
        Statistic: 'Minimum',
        Period: 3600,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        // Between runs it keeps its state: a failed run pages until a run succeeds.
        TreatMissingData: 'ignore',
        AlarmActions: [topic()],
        OKActions: [topic()],
      });
    }
  });

  it(
    'alarms when no run reported (and no deploy) over the whole expected window, cut into periods that must all ' +
      'breach: missing data breaches',
    () => {
      const missing = {
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        AlarmActions: [topic()],
        OKActions: [topic()],
      };
      /** The alarm's math: runs reported plus the deploy's mark, both SampleCount over the alarm's period. */
      const metrics = (id: string, period: number) => [
        { Id: 'expr_1', Expression: 'SUM([runs, deployed])', Label: 'Runs reported, and the deploy' },
        {
          Id: 'runs',
          ReturnData: false,
          MetricStat: {
            Metric: { Namespace: METRIC_NAMESPACE, MetricName: METRIC.probeSucceeded, Dimensions: dimensions(id) },
            Period: period,
            Stat: 'SampleCount',
          },
        },
        {
          Id: 'deployed',
          ReturnData: false,
          MetricStat: {
            Metric: { Namespace: METRIC_NAMESPACE, MetricName: METRIC.probeDeployed, Dimensions: dimensions(id) },
            Period: period,
            Stat: 'SampleCount',
          },
        },
      ];
      // chat runs at 02:00 in Paris: 47 h between runs over the spring change, so 48 h by default.
      expect(alarm(alarmName('chat', 'probe-missing'))).toMatchObject({
        ...missing,
        Metrics: metrics('chat', 86_400),
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
      });
      expect(alarm(alarmName('bulk', 'probe-missing'))).toMatchObject({
        ...missing,
        Metrics: metrics('bulk', 64_800),
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
      });
      expect(alarm(alarmName('feed', 'probe-missing'))).toMatchObject({
        ...missing,
        Metrics: metrics('feed', 86_400),
        EvaluationPeriods: 7,
        DatapointsToAlarm: 7,
      });
    },
  );

  it(
    'publishes the deploy as a ProbeDeployed datapoint of each target, so probe-missing cannot page before the ' +
      'first run was due',
    () => {
      const marks = resourcesOf(template, 'Custom::AWS').map(([, resource]) => resource.Properties);
      expect(marks).toHaveLength(3);
      const created = marks.map(
        (mark) =>
          JSON.parse(String(mark.Create)) as {
            service: string;
            action: string;
            parameters: { Namespace: string; MetricData: Array<Record<string, unknown>> };
            physicalResourceId: { id: string };
          },
      );
      for (const id of ['chat', 'feed', 'bulk']) {
        const mark = created.find((each) => each.physicalResourceId.id.startsWith(`ws-ceiling-${id}-probe-missing:`));
        expect(mark).toMatchObject({
          service: 'CloudWatch',
          action: 'putMetricData',
          parameters: {
            Namespace: METRIC_NAMESPACE,
            MetricData: [
              { MetricName: METRIC.probeDeployed, Value: 1, Unit: 'Count', Dimensions: expect.any(Array) as unknown },
            ],
          },
        });
        expect(mark?.parameters.MetricData[0]?.Dimensions).toEqual([
          { Name: DIMENSION.target, Value: id },
          { Name: DIMENSION.region, Value: TEST_REGION },
        ]);
      }
      // A change to the alarm's window or to whether it is enabled publishes the mark again.
      expect(created.map((mark) => mark.physicalResourceId.id).sort()).toEqual([
        'ws-ceiling-bulk-probe-missing:64800x2:enabled',
        'ws-ceiling-chat-probe-missing:86400x2:enabled',
        'ws-ceiling-feed-probe-missing:86400x7:disabled',
      ]);
    },
  );

  it(
    'pages within five minutes on a failed, timed-out or aborted execution and on worker errors and throttles, ' +
      'on ALARM only',
    () => {
      const stateMachine = (id: string) => ({ Ref: logicalIdOf(probeTargetOf(stack, id).run.stateMachine) });
      const worker = (id: string) => ({ Ref: logicalIdOf(probeTargetOf(stack, id).worker.function) });
      const event = {
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic()],
      };
      for (const id of ['chat', 'feed', 'bulk']) {
        const executions = [
          ['execution-failed', 'ExecutionsFailed'],
          ['execution-timed-out', 'ExecutionsTimedOut'],
          ['execution-aborted', 'ExecutionsAborted'],
        ] as const;
        for (const [kind, metric] of executions) {
          const properties = alarm(alarmName(id, kind));
          expect(properties).toMatchObject({
            ...event,
            Namespace: 'AWS/States',
            MetricName: metric,
            Dimensions: [{ Name: 'StateMachineArn', Value: stateMachine(id) }],
          });
          expect(properties.OKActions).toBeUndefined();
        }
        for (const [kind, metric] of [
          ['worker-errors', 'Errors'],
          ['worker-throttles', 'Throttles'],
        ] as const) {
          const properties = alarm(alarmName(id, kind));
          expect(properties).toMatchObject({
            ...event,
            Namespace: 'AWS/Lambda',
            MetricName: metric,
            Dimensions: [{ Name: 'FunctionName', Value: worker(id) }],
          });
          expect(properties.OKActions).toBeUndefined();
        }
      }
    },
  );

  it('pages while a start the scheduler could not make is a dead letter, and says OK once it is gone', () => {
    for (const id of ['chat', 'feed', 'bulk']) {
      expect(alarm(alarmName(id, 'schedule-dead-letters'))).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [logicalIdOf(probeTargetOf(stack, id).schedule.deadLetters), 'QueueName'] },
          },
        ],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic()],
        OKActions: [topic()],
      });
    }
  });

  it('notifies the on-call topic on ALARM, and on OK except for the alarms on a broken run', () => {
    for (const [, resource] of resourcesOf(template, 'AWS::CloudWatch::Alarm')) {
      const broken = BROKEN_RUN_KINDS.some((kind) => String(resource.Properties.AlarmName).endsWith(`-${kind}`));
      expect(resource.Properties).toMatchObject({ AlarmActions: [topic()] });
      expect(resource.Properties.OKActions).toEqual(broken ? undefined : [topic()]);
    }
  });

  it('keeps the actions of a disabled target off, so its silence does not page', () => {
    expect(alarm(alarmName('chat', 'probe-failed')).ActionsEnabled).toBe(true);
    expect(alarm(alarmName('chat', 'probe-missing')).ActionsEnabled).toBe(true);
    for (const kind of [
      'regressed',
      'probe-failed',
      'probe-missing',
      'execution-failed',
      'schedule-dead-letters',
    ] as const)
      expect(alarm(alarmName('feed', kind)).ActionsEnabled).toBe(false);
  });

  it('tells on-call what the alarm means and which commands to run next', () => {
    for (const [, resource] of resourcesOf(template, 'AWS::CloudWatch::Alarm')) {
      const description = String(resource.Properties.AlarmDescription);
      const id = String(resource.Properties.AlarmName)
        .slice(names.alarmPrefix.length)
        .replace(
          /-(regressed|below-floor|probe-failed|probe-missing|execution-failed|execution-timed-out|execution-aborted|worker-errors|worker-throttles|schedule-dead-letters)$/,
          '',
        );
      expect(description).toContain(`ws-ceiling history --region ${TEST_REGION} --target-id ${id}`);
      expect(description).toContain(`ws-ceiling invoke --target-id ${id} --region ${TEST_REGION}`);
      expect(description.length).toBeLessThanOrEqual(1024);
    }
    expect(alarm(alarmName('chat', 'regressed')).AlarmDescription).toMatch(
      /fell under 85 % of its baseline \(the median of its last 7 completed runs\)/,
    );
    expect(alarm(alarmName('chat', 'below-floor')).AlarmDescription).toMatch(
      /under its declared floor of 150 concurrent connections/,
    );
    expect(alarm(alarmName('chat', 'probe-failed')).AlarmDescription).toMatch(
      /the last run of chat probed from eu-west-1 did not succeed.*The ceiling is unknown, not low.*returns to OK when a run succeeds/,
    );
    expect(alarm(alarmName('feed', 'probe-missing')).AlarmDescription).toMatch(
      /no run of feed probed from eu-west-1 has reported for 168 h.*\(30 3 \? \* MON,THU \*, UTC\).*executions of the state machine ws-ceiling-feed.*returns to OK when a run reports/,
    );
  });
});

describe('ProbeAlarms regression threshold', () => {
  const tolerances = [0.18, 0.41, 0.57, 0.7, 0.83, 0.95];

  it('fires exactly for the runs the verdict calls regressed, at every baseline up to 100,000', () => {
    const config = parseConfig(
      {
        allowedHosts: ['chat.example.com'],
        targets: tolerances.map((regressionTolerance, index) => ({
          id: `t${index}`,
          url: 'wss://chat.example.com/',
          regions: [TEST_REGION],
          schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
          plan: { stages: [50], holdSeconds: 1 },
          regressionTolerance,
        })),
      },
      'tolerance config',
    );
    const synthesized = Template.fromStack(stackOf(buildApp(config)));
    const thresholds = tolerances.map((_, index) => {
      const found = resourcesOf(synthesized, 'AWS::CloudWatch::Alarm').find(
        ([, resource]) => resource.Properties.AlarmName === alarmName(`t${index}`, 'regressed'),
      );
      return Number(found?.[1].Properties.Threshold);
    });
    expect(thresholds).toEqual([0.82, 0.59, 0.43, 0.3, 0.17, 0.05]);
    const mismatches: string[] = [];
    tolerances.forEach((regressionTolerance, index) => {
      const threshold = thresholds[index] as number;
      for (let value = 1; value <= 100_000; value += 1) {
        const lowestOk = Math.ceil(value * threshold - 1e-6);
        for (const ceiling of [lowestOk - 1, lowestOk]) {
          if (ceiling < 0) continue;
          const ratio = ceilingRatio(ceiling, value);
          const regressed = isRegression(
            { verdict: 'ok', ceiling: { value: ceiling, reached: true } },
            { value, runs: 7, ratio, regressionTolerance },
          );
          const fires = ratio < threshold;
          if (fires !== regressed)
            mismatches.push(
              `ceiling ${ceiling} of baseline ${value} at tolerance ${regressionTolerance}: alarm ${fires}, ` +
                `verdict regressed ${regressed}`,
            );
        }
      }
    });
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});

describe('alarm names', () => {
  it('starts every alarm name with the prefix the topic lets CloudWatch publish for', () => {
    expect(alarmName('chat-prod', 'below-floor')).toBe('ws-ceiling-chat-prod-below-floor');
    expect(resourceNames('staging').alarm('chat', 'below-floor')).toBe('ws-ceiling-staging-chat-below-floor');
    expect(resourceNames('staging').alarmPrefix).toBe('ws-ceiling-staging-');
  });
});

describe('AlarmTopic', () => {
  it('subscribes every on-call endpoint of the config', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 2);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: topic(),
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'https',
      Endpoint: 'https://hooks.example.com/ws-ceiling',
      TopicArn: topic(),
    });
  });

  it('is encrypted with its own rotating key and refuses publishers without TLS', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [logicalIdOf(stack.alarmTopic.key), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it("lets CloudWatch publish and use the key only for this account's ws-ceiling alarms", () => {
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': TEST_ACCOUNT },
      ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${TEST_REGION}:${TEST_ACCOUNT}:alarm:ws-ceiling-*` },
    };
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Resource: topic(),
            Condition: fromOurAlarms,
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Resource: '*',
            Condition: fromOurAlarms,
          }),
        ]),
      },
    });
  });
});

describe('ProbeDashboard', () => {
  /** A dashboard body: its time range and widgets. */
  interface DashboardBody {
    start: string;
    widgets: Array<{ type: string; properties: Record<string, unknown> }>;
  }

  /** The dashboard body, with every token written as `<token>`. */
  function dashboardBody(): DashboardBody {
    const [, resource] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0] ?? [];
    const [, parts] = (resource?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : '<token>')).join('')) as DashboardBody;
  }

  it("shows each target's ceiling and drop onset over time, with its floor, and whether each run succeeded", () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: names.dashboard(TEST_REGION) });
    const body = dashboardBody();
    expect(body.start).toBe('-P30D');
    const chatCeiling = body.widgets.find(
      (widget) => widget.properties.title === 'chat: ceiling and drop onset (connections)',
    );
    expect(chatCeiling?.properties.metrics).toEqual([
      [
        METRIC_NAMESPACE,
        METRIC.ceiling,
        'Region',
        TEST_REGION,
        'Target',
        'chat',
        { label: 'Ceiling', period: 3600, stat: 'Minimum' },
      ],
      [
        METRIC_NAMESPACE,
        METRIC.dropOnset,
        'Region',
        TEST_REGION,
        'Target',
        'chat',
        { label: 'Drop onset', period: 3600, stat: 'Minimum' },
      ],
    ]);
    expect(chatCeiling?.properties.annotations).toEqual({
      horizontal: [{ value: 150, label: 'Floor 150', yAxis: 'left' }],
    });
    const titles = body.widgets.map((widget) => widget.properties.title);
    for (const id of ['chat', 'feed', 'bulk']) {
      expect(titles).toContain(`${id}: ceiling and drop onset (connections)`);
      expect(titles).toContain(`${id}: probe succeeded (1 / 0)`);
    }
  });

  it(
    'lists the state of every alarm of the region, both probe alarms of each target included, those in ALARM ' +
      'first',
    () => {
      const status = dashboardBody().widgets.find((widget) => widget.type === 'alarm');
      // Ten alarms for chat (with its floor), nine each for feed and bulk.
      expect(status?.properties.alarms).toHaveLength(28);
      expect(status?.properties.sortBy).toBe('stateUpdatedTimestamp');
      const body = JSON.stringify(resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0]?.[1].Properties.DashboardBody);
      for (const target of stack.targets) {
        for (const each of [target.alarms.probeFailed, target.alarms.probeMissing])
          expect(body).toContain(JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(each), 'Arn'] }));
      }
    },
  );
});
