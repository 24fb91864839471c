/**
 * Whether a region's workers fit the account's Lambda concurrency: every
 * worker of a run starts at once, so a target needs as many concurrent
 * executions as it has workers, from its reserved concurrency when it sets
 * one, else from the account's unreserved pool; and reservations must leave
 * Lambda's 100 unreserved. `ws-ceiling config check --region R` reads the
 * account's figures (GetAccountSettings) and refuses a config that does not
 * fit. Pure: the figures are handed in.
 */
import { LAMBDA_MIN_UNRESERVED_CONCURRENCY } from './aws-limits.js';
import type { TargetConfig } from './config-types.js';
import { shardCount } from './worker-budget.js';

/** The account's Lambda concurrency in a region, as GetAccountSettings reports it. */
export interface AccountConcurrency {
  /** Concurrent executions the account may run in the region (AccountLimit.ConcurrentExecutions). */
  limit: number;
  /** Of them, those no function has reserved (AccountLimit.UnreservedConcurrentExecutions). */
  unreserved: number;
}

/** A target whose workers do not fit, with the field to change. */
export interface ConcurrencyProblem {
  targetId: string;
  field: 'reservedConcurrency' | 'plan';
  message: string;
}

/** The problems of `targets` (those probed from one region) against the account's `concurrency` there. */
export function concurrencyProblems(
  targets: readonly TargetConfig[],
  concurrency: AccountConcurrency,
  region: string,
): ConcurrencyProblem[] {
  const problems: ConcurrencyProblem[] = [];
  const reservable = concurrency.limit - LAMBDA_MIN_UNRESERVED_CONCURRENCY;
  const reserved = targets.reduce((total, target) => total + (target.reservedConcurrency ?? 0), 0);
  for (const target of targets) {
    const workers = shardCount(target.plan);
    if (target.reservedConcurrency !== undefined) {
      if (reserved > reservable) {
        problems.push({
          targetId: target.id,
          field: 'reservedConcurrency',
          message:
            `the targets of ${region} reserve ${reserved} concurrent executions in all, but the account's limit ` +
            `there is ${concurrency.limit} and Lambda keeps ${LAMBDA_MIN_UNRESERVED_CONCURRENCY} unreserved, so at ` +
            `most ${Math.max(0, reservable)} can be reserved; reserve less, or ask AWS to raise the limit`,
        });
      }
    } else if (workers > concurrency.unreserved) {
      problems.push({
        targetId: target.id,
        field: 'plan',
        message:
          `starts ${workers} workers at once, but the account has only ${concurrency.unreserved} unreserved ` +
          `concurrent executions in ${region} (limit ${concurrency.limit}), so some would be throttled and every ` +
          'run would be inconclusive; plan fewer workers (a larger shardSize or fewer connections), or ask AWS ' +
          'to raise the limit',
      });
    }
  }
  return problems;
}
