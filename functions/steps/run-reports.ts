/**
 * Where a deployed run's HTML report is kept, and the link on-call opens it
 * with. The record step renders the report (the same page as `ws-ceiling
 * report`) and stores it in the region's shard-results bucket under
 * `reports/`, kept {@link REPORT_RETENTION_DAYS} days. The link is to the
 * object in the S3 console, not a pre-signed URL: one signed with the record
 * Lambda's role would stop working when that role's session credentials
 * expire (within hours), long before someone reads a page from the night.
 * Implemented on S3 by an adapter.
 */
import type { RunResult } from '../engine/types.js';

/** Days a run's HTML report is kept (the bucket's lifecycle rule for `reports/`); the run item stays 400 days. */
export const REPORT_RETENTION_DAYS = 90;

/** A stored report. */
export interface ReportLocation {
  bucket: string;
  key: string;
  /** The object in the S3 console: works while it is kept, for whoever may sign in and read it. */
  consoleUrl: string;
}

/** Where reports are stored. */
export interface RunReports {
  /** Stores `html` as the report of `run` and says where it is. */
  putReport(run: Pick<RunResult, 'targetId' | 'runId'>, html: string): Promise<ReportLocation>;
}

/** The S3 console page of `key` in `bucket` of `region`. */
export function reportConsoleUrl(bucket: string, region: string, key: string): string {
  return (
    `https://${region}.console.aws.amazon.com/s3/object/${encodeURIComponent(bucket)}` +
    `?region=${encodeURIComponent(region)}&bucketType=general&prefix=${encodeURIComponent(key)}`
  );
}
