/**
 * The payloads that pass between the deployed run's states: what starts a
 * run, what the plan step hands the worker map, what each worker returns and
 * what the record step receives and answers. The state machine construct and
 * the handlers both follow these shapes. Every payload stays small (records
 * travel through S3, never through Step Functions) and holds no secret.
 */
import type { TargetConfig } from '../config/config-types.js';
import type {
  LimitingFactorKind,
  ProbePlan,
  RunResult,
  ShardAbort,
  ShardPlan,
  StagePlan,
  Verdict,
} from '../engine/types.js';
import type { RunLockHolder } from './run-locks.js';

/**
 * The input of a run: the schedule's fixed input, or `ws-ceiling invoke`'s
 * (which reads it from the schedule). It carries the target's validated
 * config, with secret headers as references only; the plan step validates it
 * again and checks the URL's host against the stack's allowlist.
 */
export interface RunRequest {
  target: TargetConfig;
  /** What started the run (for logs). */
  trigger?: 'schedule' | 'invoke';
  /**
   * Seconds the run waits before it plans: the region's stagger, set in the
   * schedule's input (see functions/config/region-starts.ts); absent or 0 for
   * `ws-ceiling invoke`, which runs at once.
   */
  startOffsetSeconds?: number;
}

/**
 * What the state machine hands the plan Lambda: the execution's input as it
 * came, and the number of shards the deployed map starts at once. The second
 * is written into the state machine at synth, so an execution started by
 * hand cannot change it.
 */
export interface PlanStepInput {
  /** The execution input: a RunRequest, until the plan step has validated it. */
  request: unknown;
  /** The map's MaxConcurrency: the deployed plan's shard count. */
  shardsAtOnce: number;
}

/** One worker's task: its share of every stage, with the run's absolute stage times. */
export interface ShardTask {
  runId: string;
  target: TargetConfig;
  /** When the plan step planned the run, epoch milliseconds (stop requests after it apply). */
  plannedAt: number;
  stages: StagePlan[];
  shard: ShardPlan;
  /** Shards in the run (each worker's share of a count tolerance depends on it). */
  shardCount: number;
}

/** The plan step's output, which is the state the worker map runs over (`$.shardTasks`). */
export interface PlanStepOutput {
  runId: string;
  target: TargetConfig;
  plannedAt: number;
  plan: ProbePlan;
  /** One per shard; none when the run is skipped. */
  shardTasks: ShardTask[];
  /**
   * Set when another run of the target held the run lock: the run probes
   * nothing, and the state machine goes straight to the record step, which
   * records it as `skipped`.
   */
  skipped?: { heldBy: RunLockHolder };
}

/** What a worker returns: where its records are, and how it ended. */
export interface WorkerOutput {
  shard: number;
  /** S3 key of the shard's full ShardResult (JSON) in the shard-results bucket. */
  resultKey: string;
  records: number;
  opened: number;
  aborted?: ShardAbort;
  /**
   * Milliseconds after the planned start at which the worker was ready to
   * open its share, when that was later than the late-start threshold (see
   * worker-step.ts); absent when it was on time.
   */
  startedLateMs?: number;
}

/** What the map's catch produces for a worker that failed or timed out. */
export interface FailedShard {
  shard: number;
  failed: { error: string; cause: string };
}

/**
 * The record step's input: the plan step's output with the map's results at
 * `$.shards` (absent for a skipped run, which went straight to the record step).
 */
export interface RecordStepInput extends PlanStepOutput {
  shards?: Array<WorkerOutput | FailedShard>;
}

/** The record step's output, which is the execution's output that `ws-ceiling invoke` prints. */
export interface RecordStepOutput {
  runId: string;
  targetId: string;
  verdict: Verdict;
  verdictReason: string;
  ceiling: RunResult['ceiling'];
  dropOnset: number | null;
  limitingFactor: LimitingFactorKind | null;
  /** `duplicate` when a retried record step found the run already written. */
  stored: 'written' | 'duplicate';
}

/** True when a map result is a worker that failed rather than one that returned. */
export function isFailedShard(result: WorkerOutput | FailedShard): result is FailedShard {
  return 'failed' in result;
}
