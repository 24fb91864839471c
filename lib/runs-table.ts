/**
 * The runs table of a region: every run's item (`pk = TARGET#<id>`,
 * `sk = RUN#<startedAt>#<runId>`), the stop requests of the kill switch
 * (`pk = STOP#<id>`) and the targets' run locks (`pk = LOCK#<id>`), with an
 * index of every target's runs by start time (`recent-runs`) for listing
 * recent runs without a scan. On-demand, point-in-time recovery, TTL on
 * `expiresAt`, encrypted at rest, kept when the stack is deleted. The grant
 * methods give each function exactly the calls it makes, on exactly the
 * partitions it uses (a `dynamodb:LeadingKeys` condition).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  RECENT_RUNS_INDEX,
  RUN_LOCK_PARTITION_PREFIX,
  RUN_PARTITION_PREFIX,
  RUNS_TABLE_TTL_ATTRIBUTE,
  stopRequestPartitionKey,
} from '../functions/steps/deployment-names.js';

/** What the table needs. */
export interface RunsTableProps {
  /** Its name: `ws-ceiling-runs`, or `ws-ceiling-<name>-runs` in a named deployment. */
  tableName: string;
}

/** The runs table and the grants on it. */
export class RunsTable extends Construct {
  /** The table. */
  readonly table: Table;

  constructor(scope: Construct, id: string, props: RunsTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: RUNS_TABLE_TTL_ATTRIBUTE,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: RECENT_RUNS_INDEX.name,
      partitionKey: { name: RECENT_RUNS_INDEX.partitionKey, type: AttributeType.STRING },
      sortKey: { name: RECENT_RUNS_INDEX.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: ['run'],
    });
  }

  /** Lets a target's worker read its own stop request: `GetItem` on `STOP#<targetId>` only, no write. */
  grantStopRequestRead(grantee: IGrantable, targetId: string): void {
    this.#grantOnPartitions(grantee, ['dynamodb:GetItem'], 'ForAllValues:StringEquals', [
      stopRequestPartitionKey(targetId),
    ]);
  }

  /**
   * Lets the record step write a run once and read a target's earlier runs:
   * `PutItem` and `Query` on run partitions (`TARGET#…`) only, never on stop
   * requests; and release a run lock: `DeleteItem` on `LOCK#…` only.
   */
  grantRunRecord(grantee: IGrantable): void {
    this.#grantOnPartitions(grantee, ['dynamodb:PutItem', 'dynamodb:Query'], 'ForAllValues:StringLike', [
      `${RUN_PARTITION_PREFIX}*`,
    ]);
    this.#grantOnPartitions(grantee, ['dynamodb:DeleteItem'], 'ForAllValues:StringLike', [
      `${RUN_LOCK_PARTITION_PREFIX}*`,
    ]);
  }

  /** Lets the plan step take a run lock and read who holds it: `PutItem` and `GetItem` on `LOCK#…` only. */
  grantRunLockTake(grantee: IGrantable): void {
    this.#grantOnPartitions(grantee, ['dynamodb:PutItem', 'dynamodb:GetItem'], 'ForAllValues:StringLike', [
      `${RUN_LOCK_PARTITION_PREFIX}*`,
    ]);
  }

  /** Allows `actions` on the table for items whose partition key matches `partitions`. */
  #grantOnPartitions(grantee: IGrantable, actions: string[], operator: string, partitions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions,
        resources: [this.table.tableArn],
        conditions: { [operator]: { 'dynamodb:LeadingKeys': partitions } },
      }),
    );
  }
}
