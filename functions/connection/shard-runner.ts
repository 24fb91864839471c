/**
 * Runs one shard of a staged ramp: at each stage's absolute start time it
 * opens the shard's share of new connections at the paced rate with a bound
 * on handshakes in flight, holds everything open until the stage's hold ends,
 * samples its own event-loop delay, and at the end closes every connection
 * still open with 1000. Fatal failures (config error, unreachable, the probe's
 * own limits) stop every shard at once through the shared RampControl.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { classifyRecord, isFatal } from '../engine/classify.js';
import type { RampControl } from '../engine/ramp-control.js';
import type {
  ConnectionRecord,
  FailureClass,
  HeartbeatSettings,
  LoopDelaySample,
  ShardPlan,
  ShardResult,
  StagePlan,
} from '../engine/types.js';
import { openProbeConnection, type ProbeConnection } from './probe-connection.js';

/** How long connections get to complete the closing handshake before they are destroyed. */
const CLOSE_GRACE_MS = 3000;

/** What one shard runs. */
export interface ShardInput {
  url: string;
  headers: Record<string, string>;
  subprotocols: string[];
  handshakeTimeoutSeconds: number;
  heartbeat: HeartbeatSettings;
  stages: readonly StagePlan[];
  shard: ShardPlan;
  /**
   * Optional, for adaptive experiments (diagnose's refinement): called after
   * the last stage has been held, and after every stage it returns; gives the
   * next stage and this shard's new connections in it, or undefined to end.
   * Stages it returns need not follow `shard.newPerStage`.
   */
  nextStage?: (ended: StagePlan) => AdaptiveStage | undefined;
}

/** A stage decided while the shard runs, with this shard's new connections in it. */
export interface AdaptiveStage {
  stage: StagePlan;
  newConnections: number;
}

/** Something that happened in a shard, for live progress. */
export type ShardEvent =
  | { type: 'stage-started'; shard: number; stage: number }
  | { type: 'stage-ended'; shard: number; stage: number }
  /** A handshake settled; `failureClass` is set when it failed. */
  | { type: 'settled'; record: ConnectionRecord; failureClass?: FailureClass }
  /** An opened connection closed; `failureClass` is set when that was a drop. */
  | { type: 'closed'; record: ConnectionRecord; failureClass?: FailureClass };

/** What a shard needs besides its input. */
export interface ShardDependencies {
  /** Shared by every shard of the run: failure counts per stage and the kill switch. */
  control: RampControl;
  /** Epoch milliseconds; defaults to a monotonic high-resolution clock. */
  now?: () => number;
  onEvent?: (event: ShardEvent) => void;
}

/** A monotonic wall clock with sub-millisecond resolution. */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs the shard to its end (or until the control aborts) and returns every record. */
export async function runShard(input: ShardInput, deps: ShardDependencies): Promise<ShardResult> {
  return new ShardRun(input, deps).run();
}

class ShardRun {
  readonly #now: () => number;
  readonly #connections: ProbeConnection[] = [];
  readonly #loopDelay: LoopDelaySample[] = [];
  readonly #slotWaiters: (() => void)[] = [];
  /** New connections of stages given by `nextStage`, by stage index. */
  readonly #adaptiveNew = new Map<number, number>();
  #inFlight = 0;
  #anyOpened = false;
  #currentStage = 0;

  constructor(
    private readonly input: ShardInput,
    private readonly deps: ShardDependencies,
  ) {
    this.#now = deps.now ?? preciseNow;
  }

  async run(): Promise<ShardResult> {
    const { control } = this.deps;
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    let stagesRun = 0;
    try {
      for (let position = 0, stage = this.input.stages[0]; stage; stage = this.#stageAfter(stage, (position += 1))) {
        if (control.signal.aborted) break;
        await this.#sleepUntil(stage.startAt);
        if (control.signal.aborted) break;
        this.#currentStage = stage.index;
        histogram.reset();
        this.deps.onEvent?.({ type: 'stage-started', shard: this.input.shard.index, stage: stage.index });
        await this.#ramp(stage);
        await this.#sleepUntil(stage.holdEndsAt);
        this.#loopDelay.push({ stage: stage.index, p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 });
        if (control.signal.aborted) break;
        this.deps.onEvent?.({ type: 'stage-ended', shard: this.input.shard.index, stage: stage.index });
        stagesRun += 1;
        if (control.shouldStopAfter(stage.index)) break;
      }
    } finally {
      histogram.disable();
      await this.#closeAll();
    }
    return {
      shard: this.input.shard.index,
      records: this.#connections.map((connection) => connection.record),
      loopDelay: this.#loopDelay,
      stagesRun,
      ...(control.abortReason ? { aborted: control.abortReason } : {}),
    };
  }

  /** The planned stage at `position`, or else the one `nextStage` decides after `ended`. */
  #stageAfter(ended: StagePlan, position: number): StagePlan | undefined {
    const planned = this.input.stages[position];
    if (planned || !this.input.nextStage) return planned;
    const next = this.input.nextStage(ended);
    if (next) this.#adaptiveNew.set(next.stage.index, next.newConnections);
    return next?.stage;
  }

  async #ramp(stage: StagePlan): Promise<void> {
    const { shard } = this.input;
    const count = this.#adaptiveNew.get(stage.index) ?? shard.newPerStage[stage.index] ?? 0;
    const intervalMs = 1000 / shard.connectRate;
    const rampStart = Math.max(this.#now(), stage.startAt);
    for (let k = 0; k < count; k += 1) {
      await this.#sleepUntil(rampStart + k * intervalMs);
      while (this.#inFlight >= shard.maxInFlight && !this.deps.control.signal.aborted) {
        await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
      }
      if (this.deps.control.signal.aborted) return;
      this.#launch(stage.index);
    }
  }

  #launch(stage: number): void {
    const { input } = this;
    this.#inFlight += 1;
    const connection = openProbeConnection({
      url: input.url,
      headers: input.headers,
      subprotocols: input.subprotocols,
      handshakeTimeoutMs: input.handshakeTimeoutSeconds * 1000,
      heartbeat: input.heartbeat,
      shard: input.shard.index,
      id: this.#connections.length,
      stage,
      now: this.#now,
      onSettled: (record) => this.#onSettled(record),
      onClosed: (record) => this.#onClosed(record),
    });
    this.#connections.push(connection);
  }

  #onSettled(record: ConnectionRecord): void {
    this.#inFlight -= 1;
    this.#slotWaiters.shift()?.();
    const failureClass = classifyRecord(record, { anyOpenedBefore: this.#anyOpened });
    if (record.outcome === 'opened') this.#anyOpened = true;
    if (failureClass) {
      this.deps.control.recordFailure(record.stage);
      if (isFatal(failureClass)) {
        const detail = record.status !== undefined ? `HTTP ${record.status}` : (record.errorCode ?? record.outcome);
        this.deps.control.abort({ failureClass, message: `${failureClass}: ${detail}` });
      }
    }
    this.deps.onEvent?.({ type: 'settled', record, ...(failureClass ? { failureClass } : {}) });
  }

  #onClosed(record: ConnectionRecord): void {
    const failureClass = classifyRecord(record, { anyOpenedBefore: true });
    if (failureClass) this.deps.control.recordFailure(this.#currentStage);
    this.deps.onEvent?.({ type: 'closed', record, ...(failureClass ? { failureClass } : {}) });
  }

  /** Sleeps until `at` (epoch ms), waking early if the run is aborted. */
  #sleepUntil(at: number): Promise<void> {
    const delay = at - this.#now();
    const { signal } = this.deps.control;
    if (delay <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, delay);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  async #closeAll(): Promise<void> {
    this.#slotWaiters.splice(0).forEach((wake) => wake());
    for (const connection of this.#connections) connection.closeByProbe();
    const allEnded = Promise.all(this.#connections.map((connection) => connection.ended));
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => (graceTimer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
    if ((await Promise.race([allEnded, grace])) === 'late') {
      for (const connection of this.#connections) connection.terminateByProbe();
      await allEnded;
    }
    clearTimeout(graceTimer);
  }
}
