/**
 * The deploy's mark on a target's probe-missing alarm: at each deploy that
 * creates or changes the alarm, a `ProbeDeployed` datapoint (1) of the
 * target in this region is published, and the alarm counts it as a report.
 * A new alarm therefore starts with one period that is not breaching, and
 * can fire only once a whole `expectedEveryHours` window has passed without
 * a run: by then the first scheduled run was due and has reported (that
 * window is longer than the cron's longest gap plus a run's reporting time).
 * Without it, a fresh alarm whose missing data breaches pages minutes after
 * the deploy. Published by an AwsCustomResource (CloudWatch PutMetricData,
 * in the ws-ceiling namespace only).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { DIMENSION, METRIC, METRIC_NAMESPACE } from '../functions/engine/metric-names.js';

/** What the mark is for. */
export interface DeployedMarkerProps {
  targetId: string;
  /**
   * What the alarm is (its name, window and whether it is enabled): a change publishes the mark again, since
   * CloudWatch evaluates the changed alarm afresh.
   */
  alarmFingerprint: string;
  /** Where the stack's custom-resource function logs (one function serves every mark of the stack). */
  logGroup: ILogGroup;
}

/** Publishes the target's `ProbeDeployed` datapoint when the stack creates or changes its probe-missing alarm. */
export class DeployedMarker extends Construct {
  /** The custom resource that publishes it. */
  readonly resource: AwsCustomResource;

  constructor(scope: Construct, id: string, props: DeployedMarkerProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    const publish = {
      service: 'CloudWatch',
      action: 'putMetricData',
      parameters: {
        Namespace: METRIC_NAMESPACE,
        MetricData: [
          {
            MetricName: METRIC.probeDeployed,
            Value: 1,
            Unit: 'Count',
            Dimensions: [
              { Name: DIMENSION.target, Value: props.targetId },
              { Name: DIMENSION.region, Value: region },
            ],
          },
        ],
      },
      physicalResourceId: PhysicalResourceId.of(props.alarmFingerprint),
    };
    this.resource = new AwsCustomResource(this, 'Publish', {
      onCreate: publish,
      onUpdate: publish,
      installLatestAwsSdk: false,
      logGroup: props.logGroup,
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          actions: ['cloudwatch:PutMetricData'],
          // PutMetricData has no resource-level permission: the namespace condition is the limit.
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
        }),
      ]),
    });
    const reason =
      'cloudwatch:PutMetricData supports no resource-level permission; the statement is limited by the condition ' +
      `cloudwatch:namespace = ${METRIC_NAMESPACE}`;
    const policy = this.resource.node.tryFindChild('CustomResourcePolicy');
    if (policy) Validations.of(policy).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
    const role = this.resource.grantPrincipal;
    if (role instanceof Construct) {
      Validations.of(role).acknowledge({
        id:
          'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/' +
          'AWSLambdaBasicExecutionRole]',
        reason:
          "CDK's AwsCustomResource function runs with AWSLambdaBasicExecutionRole (writing its own logs); its " +
          'only other permission is the PutMetricData of each mark',
      });
    }
  }
}
