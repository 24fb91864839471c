/**
 * The runs table of a region: every run's item (`pk = TARGET#<id>`,
 * `sk = RUN#<startedAt>#<runId>`) and the stop requests of the kill switch
 * (`pk = STOP#<id>`). On-demand, point-in-time recovery, TTL on `expiresAt`,
 * encrypted at rest, kept when the stack is deleted. The grant methods give
 * each function exactly the calls it makes, on exactly the partitions it
 * uses (a `dynamodb:LeadingKeys` condition).
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  RUN_PARTITION_PREFIX,
  RUNS_TABLE_NAME,
  RUNS_TABLE_TTL_ATTRIBUTE,
  stopRequestPartitionKey,
} from '../functions/steps/deployment-names.js';

/** The runs table and the grants on it. */
export class RunsTable extends Construct {
  /** The table. */
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      tableName: RUNS_TABLE_NAME,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: RUNS_TABLE_TTL_ATTRIBUTE,
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
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
   * `PutItem` and `Query` on run partitions (`TARGET#…`) only, never on stop requests.
   */
  grantRunRecord(grantee: IGrantable): void {
    this.#grantOnPartitions(grantee, ['dynamodb:PutItem', 'dynamodb:Query'], 'ForAllValues:StringLike', [
      `${RUN_PARTITION_PREFIX}*`,
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
