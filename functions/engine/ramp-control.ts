/**
 * Shared control of a ramp in progress: counts failures per stage against the
 * tolerance to decide whether ramping stops after a stage, carries the kill
 * switch that stops every shard at once (fatal failure, Ctrl-C, deadline),
 * and a hold-off: a time before which no shard sends a new upgrade (an
 * experiment honouring a Retry-After sets it; a plain run never does).
 */
import type { ShardAbort, Tolerance } from './types.js';

/** Failures a stage of `target` connections may have and still count as held. */
export function allowedFailures(tolerance: Tolerance, target: number): number {
  return tolerance.kind === 'count' ? tolerance.value : Math.floor((tolerance.value / 100) * target);
}

/** What shards report to and ask of the ramp while it runs. */
export class RampControl {
  readonly #abortController = new AbortController();
  readonly #failuresByStage = new Map<number, number>();
  readonly #abortListeners = new Set<() => void>();
  #abortReason: ShardAbort | undefined;
  #resumeAt = 0;

  /**
   * @param tolerance failures tolerated per stage
   * @param stageTargets global target of each stage, by index
   * @param stopAtFirstFailingStage stop ramping after the first stage over tolerance
   */
  constructor(
    private readonly tolerance: Tolerance,
    private readonly stageTargets: readonly number[],
    private readonly stopAtFirstFailingStage: boolean,
  ) {}

  /** Fires when the run must stop now. */
  get signal(): AbortSignal {
    return this.#abortController.signal;
  }

  /** Why the run was stopped, if it was. */
  get abortReason(): ShardAbort | undefined {
    return this.#abortReason;
  }

  /** Stops every shard; the first reason given wins. */
  abort(reason: ShardAbort): void {
    if (this.#abortReason) return;
    this.#abortReason = reason;
    this.#abortController.abort(new Error(reason.message));
    const listeners = [...this.#abortListeners];
    this.#abortListeners.clear();
    for (const listener of listeners) listener();
  }

  /**
   * Calls `listener` once when the run is stopped (at once if it is already)
   * and returns what removes it. However many shards wait on the control,
   * none of them adds a listener to `signal`.
   */
  onAbort(listener: () => void): () => void {
    if (this.signal.aborted) {
      listener();
      return () => undefined;
    }
    this.#abortListeners.add(listener);
    return () => this.#abortListeners.delete(listener);
  }

  /** Epoch milliseconds before which no shard sends a new upgrade; 0 when nothing holds them off. */
  get resumeAt(): number {
    return this.#resumeAt;
  }

  /**
   * Holds off every shard's new upgrades until `until` (epoch ms); a later hold-off extends it, an earlier one changes
   * nothing.
   */
  holdOff(until: number): void {
    this.#resumeAt = Math.max(this.#resumeAt, until);
  }

  /** Counts one failure observed during `stage`. */
  recordFailure(stage: number): void {
    this.#failuresByStage.set(stage, (this.#failuresByStage.get(stage) ?? 0) + 1);
  }

  /** True when ramping should not go past `stage`. */
  shouldStopAfter(stage: number): boolean {
    if (this.signal.aborted) return true;
    if (!this.stopAtFirstFailingStage) return false;
    const failures = this.#failuresByStage.get(stage) ?? 0;
    return failures > allowedFailures(this.tolerance, this.stageTargets[stage] ?? 0);
  }
}
