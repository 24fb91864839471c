/**
 * The AWS side of the deployed steps, assembled from a function's
 * environment: the SDK clients (region and credentials from the Lambda
 * environment) and the adapters over them that the plan, worker and record
 * steps take as collaborators. The handlers call these once per cold start.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SecretReader } from '../config/target-settings.js';
import type { PlanEnvironment, RecordEnvironment, WorkerEnvironment } from '../steps/function-environment.js';
import type { RunAlerts } from '../steps/run-alert.js';
import type { RunLocks } from '../steps/run-locks.js';
import type { RunReports } from '../steps/run-reports.js';
import type { MetricsSink } from '../engine/metrics-sink.js';
import type { RunStore } from '../engine/run-store.js';
import type { ShardResultStore } from '../steps/shard-results.js';
import type { StopRequests } from '../steps/stop-requests.js';
import { CloudWatchMetricsSink } from './cloudwatch-metrics-sink.js';
import { DynamoRunLocks } from './dynamo-run-locks.js';
import { DynamoRunStore } from './dynamo-run-store.js';
import { DynamoStopRequests } from './dynamo-stop-requests.js';
import { S3RunReports } from './s3-run-reports.js';
import { S3ShardResults } from './s3-shard-results.js';
import { SecretsManagerSecrets } from './secrets-manager-secrets.js';
import { SnsRunAlerts } from './sns-run-alerts.js';

/**
 * Bounds on a stop-request poll, so a slow answer never holds a worker past
 * its own stop: one retry, and a request abandoned after 2 s.
 */
const STOP_POLL_CLIENT = { maxAttempts: 2, requestHandler: { requestTimeout: 2000 } } as const;

/** What a worker step works with. */
export interface WorkerAdapters {
  shardResults: ShardResultStore;
  stopRequests: StopRequests;
  readSecret: SecretReader;
}

/** What the plan step works with. */
export interface PlanAdapters {
  locks: RunLocks;
}

/** What the record step works with. */
export interface RecordAdapters {
  shardResults: ShardResultStore;
  store: RunStore;
  metrics: MetricsSink;
  locks: RunLocks;
  alerts: RunAlerts;
  reportStore: RunReports;
}

/** The plan step's adapters: the run locks in the runs table. */
export function createPlanAdapters(environment: PlanEnvironment): PlanAdapters {
  return { locks: new DynamoRunLocks({ client: new DynamoDBClient({}), tableName: environment.runsTable }) };
}

/** The worker's adapters: shard results on S3, stop requests in the runs table, secrets from Secrets Manager. */
export function createWorkerAdapters(environment: WorkerEnvironment): WorkerAdapters {
  return {
    shardResults: new S3ShardResults({ client: new S3Client({}), bucket: environment.shardResultsBucket }),
    stopRequests: new DynamoStopRequests({
      client: new DynamoDBClient(STOP_POLL_CLIENT),
      tableName: environment.runsTable,
    }),
    readSecret: new SecretsManagerSecrets({ client: new SecretsManagerClient({}) }).readSecret,
  };
}

/**
 * The record step's adapters: shard results and reports on S3 (reports in
 * `region`), the runs table and its locks, CloudWatch metrics, the on-call topic.
 */
export function createRecordAdapters(environment: RecordEnvironment, region: string): RecordAdapters {
  const s3 = new S3Client({});
  const dynamo = new DynamoDBClient({});
  return {
    shardResults: new S3ShardResults({ client: s3, bucket: environment.shardResultsBucket }),
    store: new DynamoRunStore({ client: dynamo, tableName: environment.runsTable }),
    metrics: new CloudWatchMetricsSink({ client: new CloudWatchClient({}) }),
    locks: new DynamoRunLocks({ client: dynamo, tableName: environment.runsTable }),
    alerts: new SnsRunAlerts({ client: new SNSClient({}), topicArn: environment.alertTopicArn }),
    reportStore: new S3RunReports({ client: s3, bucket: environment.shardResultsBucket, region }),
  };
}
