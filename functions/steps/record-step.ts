/**
 * The deployed record step: gathers every shard's result from the
 * shard-results store, stands in an aborted result for each worker that
 * failed, timed out or left no result (so the run is `inconclusive` with the
 * worker and its error in the reason, never a low ceiling), then records the
 * run with `recordRun`: analysis, baseline, one item per run id, metrics.
 * Header values never reach this step: the settings carry header names only.
 */
import { settingsWithoutSecrets } from '../config/target-settings.js';
import type { Logger } from '../engine/logger.js';
import type { MetricsSink } from '../engine/metrics-sink.js';
import { recordRun } from '../engine/record.js';
import type { RunStore } from '../engine/run-store.js';
import type { ShardResultStore } from './shard-results.js';
import {
  isFailedShard,
  type FailedShard,
  type RecordStepInput,
  type RecordStepOutput,
  type WorkerOutput,
} from './step-payloads.js';
import type { ShardResult } from '../engine/types.js';

/** Longest part of a failed worker's error cause kept in the verdict reason. */
const MAX_CAUSE_LENGTH = 300;

/** What the record step reads and writes. */
export interface RecordStepDependencies {
  shardResults: Pick<ShardResultStore, 'getShardResult'>;
  store: RunStore;
  metrics?: MetricsSink;
  /** The AWS region the run was probed from. */
  region: string;
  /**
   * Current time, epoch milliseconds: when the record step runs, which the run keeps as its `finishedAt` (its workers
   * ended shortly before).
   */
  now: () => number;
  log: Logger;
}

/**
 * Records one deployed run:
 * 1. reads each planned shard's result; a FailedShard, a missing object or a
 *    shard absent from the map's results becomes an aborted (`interrupted`)
 *    result with no records, whose message names the worker and its error;
 * 2. records the run with header names only (analysis, baseline and verdict,
 *    one item per run id, then metrics);
 * 3. logs and returns the verdict.
 */
export async function recordStep(input: RecordStepInput, deps: RecordStepDependencies): Promise<RecordStepOutput> {
  const log = deps.log.with({ runId: input.runId, targetId: input.target.id });
  const shards = await Promise.all(
    input.plan.shards.map((planned) => shardResultOf(planned.index, input.shards, deps.shardResults)),
  );
  for (const shard of shards) {
    if (shard.aborted)
      log.warn('shard stopped early', {
        shard: shard.shard,
        records: shard.records.length,
        reason: shard.aborted.message,
      });
  }
  const { run, stored, metrics } = await recordRun(
    {
      settings: settingsWithoutSecrets(input.target),
      plan: input.plan,
      shards,
      region: deps.region,
      finishedAt: deps.now(),
    },
    { store: deps.store, ...(deps.metrics ? { metrics: deps.metrics } : {}), log },
  );
  const output: RecordStepOutput = {
    runId: run.runId,
    targetId: run.targetId,
    verdict: run.verdict,
    verdictReason: run.verdictReason,
    ceiling: run.ceiling,
    dropOnset: run.dropOnset,
    limitingFactor: run.limitingFactor?.kind ?? null,
    stored,
  };
  log.info('run recorded', {
    ...output,
    metrics,
    records: shards.reduce((total, shard) => total + shard.records.length, 0),
  });
  return output;
}

/** The result of shard `index`: what its worker stored, or an aborted stand-in saying why there is none. */
async function shardResultOf(
  index: number,
  results: ReadonlyArray<WorkerOutput | FailedShard>,
  store: Pick<ShardResultStore, 'getShardResult'>,
): Promise<ShardResult> {
  const result = results.find((candidate) => candidate.shard === index);
  if (!result) return lostShard(index, `worker ${index} returned no result`);
  if (isFailedShard(result)) return lostShard(index, `worker ${index} failed: ${describeFailure(result.failed)}`);
  const stored = await store.getShardResult(result.resultKey);
  return stored ?? lostShard(index, `worker ${index}'s result ${result.resultKey} is missing`);
}

/** A shard with no records, stopped for `message`: the run cannot claim a ceiling. */
function lostShard(index: number, message: string): ShardResult {
  return { shard: index, records: [], loopDelay: [], stagesRun: 0, aborted: { failureClass: 'interrupted', message } };
}

/**
 * A failed worker's error in a few words: the Step Functions error name
 * (for a Lambda error, its type, e.g. `Sandbox.Timedout`) and the message
 * from the cause (for a Lambda error, a JSON document with `errorType`,
 * `errorMessage` and a stack trace), shortened.
 */
export function describeFailure(failed: FailedShard['failed']): string {
  const cause = (failed.cause ?? '').trim();
  let message = cause;
  try {
    const parsed = JSON.parse(cause) as { errorType?: unknown; errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') {
      const type =
        typeof parsed.errorType === 'string' && parsed.errorType !== failed.error ? `${parsed.errorType}: ` : '';
      message = `${type}${parsed.errorMessage}`;
    }
  } catch {
    // Not a Lambda error document: the cause is plain text.
  }
  if (message.length > MAX_CAUSE_LENGTH) message = `${message.slice(0, MAX_CAUSE_LENGTH)}…`;
  return message ? `${failed.error}: ${message}` : failed.error;
}
