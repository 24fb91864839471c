/**
 * Run reports on S3: the record step writes each run's HTML report to
 * `reports/<targetId>/<runId>.html` in the region's shard-results bucket,
 * whose lifecycle rule for that prefix keeps it REPORT_RETENTION_DAYS days,
 * and links to it in the S3 console. The client is passed in.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StoreError } from '../engine/errors.js';
import { reportKey } from '../steps/deployment-names.js';
import { reportConsoleUrl, type ReportLocation, type RunReports } from '../steps/run-reports.js';

/** How an {@link S3RunReports} reaches its bucket. */
export interface S3RunReportsOptions {
  client: S3Client;
  bucket: string;
  /** The bucket's region, for the console link. */
  region: string;
}

/** {@link RunReports} in one S3 bucket. */
export class S3RunReports implements RunReports {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #region: string;

  constructor(options: S3RunReportsOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#region = options.region;
  }

  /** Writes the report (a rewrite of the same run replaces it) and returns its key and console link. */
  async putReport(run: { targetId: string; runId: string }, html: string): Promise<ReportLocation> {
    const key = reportKey(run.targetId, run.runId);
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: html,
          ContentType: 'text/html; charset=utf-8',
        }),
      );
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new StoreError(`cannot write report s3://${this.#bucket}/${key}: ${reason}`, { cause: error });
    }
    return { bucket: this.#bucket, key, consoleUrl: reportConsoleUrl(this.#bucket, this.#region, key) };
  }
}
