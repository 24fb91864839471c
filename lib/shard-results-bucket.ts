/**
 * The bucket where each worker leaves its shard's full result
 * (`runs/<targetId>/<runId>/shard-<n>.json`) for the record step, since
 * results are too large for Step Functions payloads, and where the record
 * step keeps each run's HTML report (`reports/<targetId>/<runId>.html`) for
 * the link in on-call's message. Private, TLS only, S3-managed encryption;
 * shard results expire after a few days and reports after
 * REPORT_RETENTION_DAYS (the run item in DynamoDB is the history). A worker
 * may write only under its own target's prefix.
 */
import { Duration } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { REPORTS_PREFIX, SHARD_RESULTS_PREFIX, targetShardResultsPrefix } from '../functions/steps/deployment-names.js';
import { REPORT_RETENTION_DAYS } from '../functions/steps/run-reports.js';
import type { WildcardReason } from './nag-acknowledgements.js';
import { acknowledgeRule } from './nag-acknowledgements.js';

/** Days a shard result is kept: long enough to investigate a run, short enough to cost nothing. */
const SHARD_RESULTS_EXPIRY_DAYS = 3;

/**
 * Why a grant on the objects under `prefix` (`runs/` for the record step,
 * `runs/<targetId>/` for a worker, `reports/` for the record step's reports)
 * is as narrow as it can be.
 */
export function shardObjectsWildcard(prefix: string): WildcardReason {
  return {
    matches: (resource) => resource.endsWith(`/${prefix}*`),
    reason:
      `Object keys (${SHARD_RESULTS_PREFIX}<targetId>/<runId>/shard-<n>.json, ${REPORTS_PREFIX}<targetId>/` +
      `<runId>.html) hold the run id, known only at run time; the grant is limited to the ${prefix} prefix of ` +
      "this stack's bucket",
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
          prefix: SHARD_RESULTS_PREFIX,
          expiration: Duration.days(SHARD_RESULTS_EXPIRY_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          id: 'expire-reports',
          prefix: REPORTS_PREFIX,
          expiration: Duration.days(REPORT_RETENTION_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    acknowledgeRule(
      this.bucket,
      'S1',
      "Holds only transient shard results and run reports written and read by this stack's own functions, " +
        `expiring after ${SHARD_RESULTS_EXPIRY_DAYS} and ${REPORT_RETENTION_DAYS} days; the run history is the ` +
        'DynamoDB table, and an access-log bucket would outlive the data it logs',
    );
  }

  /** Lets a target's worker write its shard results: `PutObject` under `runs/<targetId>/` only. */
  grantShardWrite(grantee: IGrantable, targetId: string): void {
    const prefix = targetShardResultsPrefix(targetId);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${prefix}*`)] }),
    );
  }

  /**
   * Lets the record step read every target's shard results (`GetObject`
   * under `runs/` only) and write reports (`PutObject` under `reports/`
   * only), and list the bucket, so that a missing shard result is S3's
   * NoSuchKey (a clear "result is missing") instead of an AccessDenied.
   */
  grantRecordStep(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${SHARD_RESULTS_PREFIX}*`)],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${REPORTS_PREFIX}*`)] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
  }
}
