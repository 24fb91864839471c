/**
 * The runs table of a region: every run's item (`pk = TARGET#<id>`,
 * `sk = RUN#<startedAt>#<runId>`) and the stop requests of the kill switch.
 * On-demand, point-in-time recovery, TTL on `expiresAt`, encrypted at rest,
 * kept when the stack is deleted. The grant methods give each function exactly
 * the calls it makes.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { RUNS_TABLE_NAME } from '../functions/engine/deployment-names.js';

/** Attribute holding an item's expiry (epoch seconds) for DynamoDB TTL. */
export const RUNS_TABLE_TTL_ATTRIBUTE = 'expiresAt';

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

  /** Lets a worker read stop requests: `GetItem` only, no write. */
  grantStopRequestRead(grantee: IGrantable): void {
    this.table.grant(grantee, 'dynamodb:GetItem');
  }

  /** Lets the record step write a run once and read a target's earlier runs: `PutItem` and `Query`. */
  grantRunRecord(grantee: IGrantable): void {
    this.table.grant(grantee, 'dynamodb:PutItem', 'dynamodb:Query');
  }
}
