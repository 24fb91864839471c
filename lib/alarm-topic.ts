/**
 * The region's on-call topic: every target's alarms notify it, the record
 * step sends its run messages to it, and the config's on-call endpoints
 * (e-mail, HTTPS, AWS Chatbot) are subscribed to it. Encrypted with a key of
 * its own (CloudWatch cannot publish to a topic encrypted with the
 * AWS-managed SNS key), TLS only, and CloudWatch may publish to it only for
 * this deployment's alarms.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription, UrlSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { OnCallEndpoint } from '../functions/config/config-types.js';

/** What the topic needs. */
export interface AlarmTopicProps {
  /** Subscribed endpoints; an e-mail subscription stays pending until its address confirms it. */
  onCall: OnCallEndpoint[];
  /** How the deployment's alarm names begin (resource-names.ts): CloudWatch may publish for those only. */
  alarmPrefix: string;
}

/** The encrypted on-call topic and its subscriptions. */
export class AlarmTopic extends Construct {
  /** The topic alarms act on. */
  readonly topic: Topic;
  /** The topic's encryption key. */
  readonly key: Key;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new Key(this, 'Key', {
      description: 'Encrypts the ws-ceiling on-call topic',
      enableKeyRotation: true,
    });
    this.topic = new Topic(this, 'Topic', {
      displayName: `ws-ceiling alarms (${stack.region})`,
      masterKey: this.key,
      enforceSSL: true,
    });
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${props.alarmPrefix}*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );
    for (const endpoint of props.onCall) {
      this.topic.addSubscription(
        endpoint.kind === 'email' ? new EmailSubscription(endpoint.address) : new UrlSubscription(endpoint.url),
      );
    }
  }
}
