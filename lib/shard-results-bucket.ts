/**
 * The bucket where each worker leaves its shard's full result
 * (`runs/<targetId>/<runId>/shard-<n>.json`) for the record step: results
 * are too large for Step Functions payloads. Private, TLS only, S3-managed
 * encryption, and objects expire after a few days (the run item in DynamoDB
 * is the history). A worker may write only under its own target's prefix.
 */
import { Duration } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { SHARD_RESULTS_PREFIX, targetShardResultsPrefix } from '../functions/steps/deployment-names.js';
import type { WildcardReason } from './nag-acknowledgements.js';
import { acknowledgeRule } from './nag-acknowledgements.js';

/** Days a shard result is kept: long enough to investigate a run, short enough to cost nothing. */
const SHARD_RESULTS_EXPIRY_DAYS = 3;

/**
 * Why a grant on the shard objects under `prefix` (`runs/` for the record
 * step, `runs/<targetId>/` for a worker) is as narrow as it can be.
 */
export function shardObjectsWildcard(prefix: string): WildcardReason {
  return {
    matches: (resource) => resource.endsWith(`/${prefix}*`),
    reason:
      `Shard result keys (${SHARD_RESULTS_PREFIX}<targetId>/<runId>/shard-<n>.json) hold the run id, known ` +
      `only at run time; the grant is limited to the ${prefix} prefix of this stack's bucket`,
  };
}

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
        {
          id: 'expire-shard-results',
          expiration: Duration.days(SHARD_RESULTS_EXPIRY_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    acknowledgeRule(
      this.bucket,
      'S1',
      "Holds only transient shard results written and read by this stack's own functions, " +
        `expiring after ${SHARD_RESULTS_EXPIRY_DAYS} days; the run history is the DynamoDB table, ` +
        'and an access-log bucket would outlive the data it logs',
    );
  }

  /** Lets a target's worker write its shard results: `PutObject` under `runs/<targetId>/` only. */
  grantShardWrite(grantee: IGrantable, targetId: string): void {
    const prefix = targetShardResultsPrefix(targetId);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${prefix}*`)] }),
    );
  }

  /** Lets the record step read every target's shard results: `GetObject` under `runs/` only. */
  grantShardRead(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${SHARD_RESULTS_PREFIX}*`)],
      }),
    );
  }
}
