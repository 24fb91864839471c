/**
 * Live progress of a run: a tally of shard events (stage, open now, failures
 * by class, handshake p95 of the current stage) shown as one redrawn line on
 * a terminal (log-update) or as plain lines per stage when output is a pipe.
 */
import { createLogUpdate } from 'log-update';
import { percentile } from '../../functions/engine/percentiles.js';
import type { ShardEvent } from '../../functions/engine/types.js';
import type { FailureClass, ProbePlan } from '../../functions/engine/types.js';

/** A point-in-time view of the run for display. */
export interface ProgressSnapshot {
  stage: number;
  stageCount: number;
  target: number;
  open: number;
  failures: Partial<Record<FailureClass, number>>;
  handshakeP95Ms: number | null;
}

/** Tallies shard events into a snapshot. */
export class ProgressTracker {
  #stage = -1;
  #endedStage = -1;
  readonly #shardsEnded = new Map<number, number>();
  #open = 0;
  #stageHandshakes: number[] = [];
  readonly #failures: Partial<Record<FailureClass, number>> = {};

  constructor(private readonly plan: ProbePlan) {}

  /** Feeds one shard event; returns true when every shard has finished holding a stage. */
  onEvent(event: ShardEvent): boolean {
    if (event.type === 'stage-started') {
      if (event.stage > this.#stage) {
        this.#stage = event.stage;
        this.#stageHandshakes = [];
      }
      return false;
    }
    if (event.type === 'stage-ended') {
      const ended = (this.#shardsEnded.get(event.stage) ?? 0) + 1;
      this.#shardsEnded.set(event.stage, ended);
      if (ended < this.plan.shards.length) return false;
      this.#endedStage = event.stage;
      return true;
    }
    const { record } = event;
    if (event.type === 'settled' && record.outcome === 'opened') {
      this.#open += 1;
      if (record.handshakeMs !== undefined) this.#stageHandshakes.push(record.handshakeMs);
    }
    if (event.type === 'closed') this.#open -= 1;
    const { failureClass } = event;
    if (failureClass) this.#failures[failureClass] = (this.#failures[failureClass] ?? 0) + 1;
    return false;
  }

  /** Whether the stage shown now has already been reported as ended. */
  get currentStageEnded(): boolean {
    return this.#endedStage === this.#stage;
  }

  snapshot(): ProgressSnapshot {
    const stage = Math.max(0, this.#stage);
    return {
      stage,
      stageCount: this.plan.stages.length,
      target: this.plan.stages[stage]?.target ?? 0,
      open: this.#open,
      failures: { ...this.#failures },
      handshakeP95Ms: percentile(this.#stageHandshakes, 95),
    };
  }
}

/** One line describing a snapshot, e.g. `stage 3/4 → 150 · open 150 · failed 0 · handshake p95 1.2 ms`. */
export function formatProgress(snapshot: ProgressSnapshot): string {
  const failures = Object.entries(snapshot.failures);
  const failed = failures.length ? failures.map(([name, count]) => `${name} ${count}`).join(', ') : '0';
  const p95 = snapshot.handshakeP95Ms === null ? '–' : `${snapshot.handshakeP95Ms.toFixed(1)} ms`;
  return (
    `stage ${snapshot.stage + 1}/${snapshot.stageCount} → ${snapshot.target} · open ${snapshot.open} · ` +
    `failed ${failed} · handshake p95 ${p95}`
  );
}

/** A running progress display; `stop()` leaves the last state on screen. */
export interface ProgressDisplay {
  onEvent(event: ShardEvent): void;
  stop(): void;
}

/** Shows progress on `stream`: a redrawn line on a terminal, a line per finished stage otherwise. */
export function startProgressDisplay(plan: ProbePlan, stream: NodeJS.WriteStream): ProgressDisplay {
  const tracker = new ProgressTracker(plan);
  if (!stream.isTTY) {
    return {
      onEvent(event) {
        if (tracker.onEvent(event)) stream.write(`${formatProgress(tracker.snapshot())}\n`);
      },
      stop() {
        if (!tracker.currentStageEnded) stream.write(`${formatProgress(tracker.snapshot())} (stopped)\n`);
      },
    };
  }
  const draw = createLogUpdate(stream);
  const timer = setInterval(() => draw(formatProgress(tracker.snapshot())), 200);
  return {
    onEvent(event) {
      if (tracker.onEvent(event)) {
        draw(formatProgress(tracker.snapshot()));
        draw.done();
      }
    },
    stop() {
      clearInterval(timer);
      if (!tracker.currentStageEnded) {
        draw(`${formatProgress(tracker.snapshot())} (stopped)`);
        draw.done();
      } else draw.clear();
    },
  };
}
