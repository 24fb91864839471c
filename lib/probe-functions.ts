/**
 * The three functions of a deployed run and exactly what each may do:
 * - plan (one per region): take and read the targets' run locks
 *   (`PutItem`/`GetItem` on `LOCK#…` of the runs table);
 * - worker (one per target): write its shard result under `runs/<targetId>/`,
 *   read its target's stop request (`GetItem` on `STOP#<targetId>`, no write),
 *   read only the secrets its target's headers and init messages name, and
 *   for a target with `auth: {kind: "sigv4"}` invoke `$connect` of that one
 *   API (`execute-api:Invoke`);
 * - record (one per region): read shard results and list the bucket, write
 *   reports under `reports/`, `PutItem`/`Query` on the run partitions
 *   (`TARGET#…`) of the runs table and `DeleteItem` on its run locks,
 *   `PutMetricData` in the ws-ceiling namespace only, publish to the on-call
 *   topic (and use its key).
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { TargetConfig } from '../functions/config/config-types.js';
import { workerTimeoutSeconds } from '../functions/config/worker-budget.js';
import { REPORTS_PREFIX, SHARD_RESULTS_PREFIX, targetShardResultsPrefix } from '../functions/steps/deployment-names.js';
import { planVariables, recordVariables, workerVariables } from '../functions/steps/function-environment.js';
import { METRIC_NAMESPACE } from '../functions/engine/metric-names.js';
import { acknowledgeWildcardAction, defaultPolicyOf } from './nag-acknowledgements.js';
import { ProbeFunction } from './probe-function.js';
import {
  PLAN_MEMORY_MB,
  PLAN_TIMEOUT_SECONDS,
  RECORD_MEMORY_MB,
  RECORD_TIMEOUT_SECONDS,
} from '../functions/config/run-budget.js';
import type { RunsTable } from './runs-table.js';
import { shardObjectsWildcard, type ShardResultsBucket } from './shard-results-bucket.js';

/** What the plan function works with. */
export interface PlanFunctionProps {
  allowedHosts: string[];
  table: RunsTable;
}

/** The plan function of a region. */
export class PlanFunction extends ProbeFunction {
  constructor(scope: Construct, id: string, props: PlanFunctionProps) {
    super(scope, id, {
      handler: 'plan-handler',
      description:
        'ws-ceiling plan step: validates the target, sets the synchronized start, splits into shards, takes ' +
        'the run lock',
      memorySize: PLAN_MEMORY_MB,
      timeout: Duration.seconds(PLAN_TIMEOUT_SECONDS),
      environment: planVariables({ allowedHosts: props.allowedHosts, runsTable: props.table.table.tableName }),
    });
    props.table.grantRunLockTake(this.role);
  }
}

/** What the record function works with. */
export interface RecordFunctionProps {
  table: RunsTable;
  bucket: ShardResultsBucket;
  /** The on-call topic its run messages go to. */
  topic: ITopic;
  /** The deployment's name (the config's `name`), for the commands in messages. */
  deployment?: string;
}

/** The record function of a region. */
export class RecordFunction extends ProbeFunction {
  constructor(scope: Construct, id: string, props: RecordFunctionProps) {
    super(scope, id, {
      handler: 'record-handler',
      description:
        'ws-ceiling record step: merges shards, decides the verdict, writes the run once, publishes metrics, ' +
        'tells on-call',
      memorySize: RECORD_MEMORY_MB,
      timeout: Duration.seconds(RECORD_TIMEOUT_SECONDS),
      environment: recordVariables({
        shardResultsBucket: props.bucket.bucket.bucketName,
        runsTable: props.table.table.tableName,
        alertTopicArn: props.topic.topicArn,
        ...(props.deployment !== undefined ? { deploymentName: props.deployment } : {}),
      }),
    });
    props.bucket.grantRecordStep(this.role);
    props.table.grantRunRecord(this.role);
    props.topic.grantPublish(this.role);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource-level permission: the namespace condition is the limit.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE } },
      }),
    );
    this.acknowledgeWildcards([
      shardObjectsWildcard(SHARD_RESULTS_PREFIX),
      shardObjectsWildcard(REPORTS_PREFIX),
      {
        matches: (resource) => resource === '*',
        reason:
          'cloudwatch:PutMetricData supports no resource-level permission; the statement is limited by the ' +
          `condition cloudwatch:namespace = ${METRIC_NAMESPACE}`,
      },
    ]);
    acknowledgeWildcardAction(
      defaultPolicyOf(this.role),
      'kms:GenerateDataKey*',
      "Publishing to the KMS-encrypted on-call topic needs kms:GenerateDataKey* (CDK's grantPublish), on the " +
        "topic's own key only",
    );
  }
}

/** What a worker function works with. */
export interface WorkerFunctionProps {
  target: TargetConfig;
  allowedHosts: string[];
  table: RunsTable;
  bucket: ShardResultsBucket;
}

/** The worker function of one target: memory and reserved concurrency from the config, timeout from the plan. */
export class WorkerFunction extends ProbeFunction {
  /** Secrets Manager secret names the worker may read (its target's secret headers). */
  readonly secretNames: string[];

  constructor(scope: Construct, id: string, props: WorkerFunctionProps) {
    super(scope, id, {
      handler: 'worker-handler',
      description: `ws-ceiling worker of target ${props.target.id}: runs one shard of the ramp`,
      memorySize: props.target.workerMemoryMb,
      timeout: Duration.seconds(workerTimeoutSeconds(props.target.plan)),
      environment: workerVariables({
        allowedHosts: props.allowedHosts,
        shardResultsBucket: props.bucket.bucket.bucketName,
        runsTable: props.table.table.tableName,
      }),
      ...(props.target.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.target.reservedConcurrency }
        : {}),
    });
    props.bucket.grantShardWrite(this.role, props.target.id);
    props.table.grantStopRequestRead(this.role, props.target.id);
    this.secretNames = secretNamesOf(props.target);
    if (this.secretNames.length > 0) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: this.secretNames.map((name) => secretArnPattern(this, name)),
        }),
      );
    }
    const { auth } = props.target;
    if (auth) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['execute-api:Invoke'], resources: [connectRouteArn(this, auth)] }),
      );
    }
    this.acknowledgeWildcards([
      shardObjectsWildcard(targetShardResultsPrefix(props.target.id)),
      {
        matches: (resource) => resource.includes(':execute-api:') && resource.endsWith('/*/$connect'),
        reason:
          "The worker signs its upgrades as its own role: the grant is the $connect route of its target's one API, " +
          'in any stage (the stage is in the URL path, not known to the template)',
      },
    ]);
  }
}

/** The ARN of an API's `$connect` route in every stage: `…:execute-api:<region>:<account>:<apiId>/<any>/$connect`. */
function connectRouteArn(scope: Construct, api: { region: string; apiId: string }): string {
  return Stack.of(scope).formatArn({
    service: 'execute-api',
    region: api.region,
    resource: api.apiId,
    resourceName: '*/$connect',
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** The distinct secret names a target's headers and session init messages refer to, sorted. */
export function secretNamesOf(target: TargetConfig): string[] {
  const names = new Set<string>();
  for (const value of [...Object.values(target.headers), ...(target.session?.initMessages ?? [])]) {
    if (typeof value !== 'string') names.add(value.secretName);
  }
  return [...names].sort();
}

/**
 * The ARN of a secret by name: Secrets Manager appends `-` and six random
 * characters to a secret's name in its ARN, hence `-??????`.
 */
export function secretArnPattern(scope: Construct, secretName: string): string {
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secretName}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
