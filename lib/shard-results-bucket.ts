/**
 * The bucket where each worker leaves its shard's full result
 * (`runs/<runId>/shard-<n>.json`) for the record step: results are too large
 * for Step Functions payloads. Private, TLS only, S3-managed encryption, and
 * objects expire after a few days (the run item in DynamoDB is the history).
 */
import { Duration } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { WildcardReason } from './nag-acknowledgements.js';
import { acknowledgeRule } from './nag-acknowledgements.js';

/** Key prefix of every shard result: workers write and the record step reads only under it. */
export const SHARD_RESULTS_PREFIX = 'runs/';

/** Days a shard result is kept: long enough to investigate a run, short enough to cost nothing. */
export const SHARD_RESULTS_EXPIRY_DAYS = 3;

/** Why a grant on `runs/*` is as narrow as it can be. */
export const SHARD_OBJECTS_WILDCARD: WildcardReason = {
  matches: (resource) => resource.endsWith(`/${SHARD_RESULTS_PREFIX}*`),
  reason: `Shard result keys hold the run id and shard number (${SHARD_RESULTS_PREFIX}<runId>/shard-<n>.json), known only at run time; the grant is limited to the ${SHARD_RESULTS_PREFIX} prefix of this stack's bucket`,
};

/** The shard-results bucket and the grants on it. */
export class ShardResultsBucket extends Construct {
  /** The bucket. */
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      lifecycleRules: [
        { id: 'expire-shard-results', expiration: Duration.days(SHARD_RESULTS_EXPIRY_DAYS), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    acknowledgeRule(
      this.bucket,
      'S1',
      `Holds only transient shard results written and read by this stack's own functions, expiring after ${SHARD_RESULTS_EXPIRY_DAYS} days; the run history is the DynamoDB table, and an access-log bucket would outlive the data it logs`,
    );
  }

  /** The objects under the shard-results prefix, as an IAM resource. */
  get shardObjectsArn(): string {
    return this.bucket.arnForObjects(`${SHARD_RESULTS_PREFIX}*`);
  }

  /** Lets a worker write its shard result: `PutObject` under the prefix only. */
  grantShardWrite(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.shardObjectsArn] }));
  }

  /** Lets the record step read shard results: `GetObject` under the prefix only. */
  grantShardRead(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [this.shardObjectsArn] }));
  }
}
