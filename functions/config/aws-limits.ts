/**
 * The AWS limits a deployed run must fit, in one table, each with where AWS
 * documents it (as read on 2026-12-04). The config checks (`config check`,
 * `cdk synth` and the plan step all run the same ones, see run-limits.ts),
 * the CDK constructs and the budgets import them from here only. Fixed
 * limits, not adjustable quotas, except where a comment says otherwise.
 */

/**
 * Step Functions: the input or output of a task, state or execution, as a
 * UTF-8 string, is at most 256 KiB.
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
 * ("Maximum input or output size for a task, state, or execution").
 */
export const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/**
 * Step Functions (standard workflows): an execution's history holds at most
 * 25,000 events; the 25,001st fails it.
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html ("Maximum execution history size").
 */
export const EXECUTION_HISTORY_EVENT_LIMIT = 25_000;

/**
 * Step Functions: an inline Map state runs at most 40 iterations at once;
 * more shards need a Distributed Map.
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html ("up to 40 concurrent iterations").
 */
export const INLINE_MAP_MAX_CONCURRENCY = 40;

/**
 * Step Functions: a Distributed Map runs at most 10,000 child workflow
 * executions at once.
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html ("up to 10,000 parallel child
 * workflow executions").
 */
export const DISTRIBUTED_MAP_MAX_CONCURRENCY = 10_000;

/**
 * Lambda: a function runs at most 900 seconds (15 minutes).
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html ("Function timeout").
 */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/** Lambda: function memory from 128 MB to 10,240 MB (same page, "Function memory allocation"). */
export const LAMBDA_MEMORY_MB = { min: 128, max: 10_240 } as const;

/**
 * Lambda: reserving concurrency must leave at least 100 of the account's
 * concurrent executions unreserved for functions without a reservation.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html ("Lambda requires at least 100
 * unreserved concurrency"). The account's limit itself is a quota (1,000 by default, lower in new accounts),
 * read with GetAccountSettings by `config check --region`.
 */
export const LAMBDA_MIN_UNRESERVED_CONCURRENCY = 100;

/**
 * EventBridge Scheduler: a schedule's name and a schedule group's name are
 * 1 to 64 characters of letters, digits, `-`, `_` and `.`.
 * https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html (`Name`, `GroupName`).
 */
export const SCHEDULE_NAME_MAX_LENGTH = 64;

/**
 * EventBridge Scheduler starts a target up to a minute after its scheduled
 * time: cron schedules have one-minute precision.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html ("cron-based schedules … a minimum
 * precision of one minute").
 */
export const SCHEDULE_START_PRECISION_SECONDS = 60;

/**
 * CloudWatch: an alarm's period is at most one day, and its evaluation range
 * (period × evaluation periods) at most seven days for periods of an hour or more.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html (`Period`,
 * `EvaluationPeriods`).
 */
export const ALARM_MAX_PERIOD_SECONDS = 86_400;

/** CloudWatch: the longest evaluation range of an alarm, seven days (same page). */
export const ALARM_MAX_EVALUATION_RANGE_SECONDS = 604_800;
