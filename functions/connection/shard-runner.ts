/**
 * Runs one shard of a staged ramp: at each stage's absolute start time it
 * opens the shard's share of new connections at the paced rate with a bound
 * on handshakes in flight, holds everything open until the stage's hold ends,
 * samples its own event-loop delay (and, given a resource watch, the host's
 * resources at each stage end), and at the end closes every connection still
 * open with 1000. A stage does not end while handshakes it started are
 * pending: after its hold it waits, at most one handshake timeout, until they
 * have settled (opened, refused or timed out), so a queueing gateway's
 * unanswered upgrades are counted in the stage that sent them. Fatal
 * failures (config error, unreachable, the probe's own limits) stop every
 * shard at once through the shared RampControl. While the
 * control holds new upgrades off (an experiment honouring Retry-After), the
 * ramp sends nothing, then resumes at its pace, and the stage's hold ends
 * that much later.
 */
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { classifyRecord, isFatal } from '../engine/classify.js';
import type { RampControl } from '../engine/ramp-control.js';
import type { SessionSettings } from '../engine/session-settings.js';
import { rejectionKey, setupFailureKey } from '../engine/session-setup.js';
import type {
  AdaptiveStage,
  ConnectionRecord,
  FailureClass,
  HeartbeatSettings,
  LoopDelaySample,
  ProbeSettings,
  ShardPlan,
  ShardEvent,
  ShardResult,
  StagePlan,
} from '../engine/types.js';
import { literalRecipe, type ConnectionRecipe } from './connection-recipe.js';
import {
  CLOSE_HANDSHAKE_TIMEOUT_MS,
  openConnectionGroup,
  type ConnectionGroup,
  type ProbeConnection,
} from './probe-connection.js';
import type { ResourceWatch } from './resource-watch.js';

/** Past the handshake timeout, how long a stage end waits for the last handshake deadline to fire. */
const SETTLE_MARGIN_MS = 250;
/** Sampling interval of the event-loop delay monitor. */
const LOOP_DELAY_RESOLUTION_MS = 10;

/** What one shard runs. */
export interface ShardInput {
  url: string;
  headers: Record<string, string>;
  subprotocols: string[];
  handshakeTimeoutSeconds: number;
  heartbeat: HeartbeatSettings;
  /** Local addresses the connections leave from, in turn (`--source-address`); absent: the system's choice. */
  sourceAddresses?: readonly string[];
  /**
   * How each connection is made (templates, a URL provider, signing, source addresses); absent: every connection
   * opens `url` with `headers` as they are, from `sourceAddresses` in turn.
   */
  recipe?: ConnectionRecipe;
  /**
   * The session: with a ready message (`--ready-when`), each connection waits for it after its upgrade before it
   * counts as open. Its init messages come from the recipe.
   */
  session?: SessionSettings;
  /** Seconds a connection's session set-up may take before its upgrade (the URL provider's timeout). */
  setupTimeoutSeconds?: number;
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

/** The run settings a shard connects with. */
export type ShardConnectionSettings = Pick<
  ProbeSettings,
  'url' | 'headers' | 'subprotocols' | 'handshakeTimeoutSeconds' | 'heartbeat' | 'sourceAddresses' | 'session'
>;

/**
 * The input of `shard` in a run with `settings` over `stages`: the one place
 * the run settings become a shard's, for the CLI, the worker Lambda, the
 * benchmark and the test fixtures alike.
 */
export function shardInputOf(
  settings: ShardConnectionSettings,
  stages: readonly StagePlan[],
  shard: ShardPlan,
): ShardInput {
  const { url, headers, subprotocols, handshakeTimeoutSeconds, heartbeat, sourceAddresses, session } = settings;
  return {
    url,
    headers,
    subprotocols,
    handshakeTimeoutSeconds,
    heartbeat,
    ...(sourceAddresses?.length ? { sourceAddresses } : {}),
    ...(session ? { session } : {}),
    stages,
    shard,
  };
}

/** What a shard needs besides its input. */
export interface ShardDependencies {
  /** Shared by every shard of the run: failure counts per stage and the kill switch. */
  control: RampControl;
  /** Epoch milliseconds; defaults to a monotonic high-resolution clock. */
  now?: () => number;
  onEvent?: (event: ShardEvent) => void;
  /** Samples the host's resources at each stage end, before the next stage or the close (see resource-watch.ts). */
  watch?: Pick<ResourceWatch, 'sampleAtStageEnd'>;
}

/** A monotonic wall clock with sub-millisecond resolution. */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Event-loop delay monitors shared by the shards of this process: they run on
 * one loop and the shards of a run hold the same stage windows, so each window
 * gets one monitor however many shards sample it. A monitor's histogram can
 * take some 400 KiB resident (all of it once reset), which with a monitor per
 * shard of ~900 connections came to ~0.4 KiB per held connection.
 */
class LoopDelayWindows {
  readonly #open = new Map<string, { histogram: IntervalHistogram; users: number }>();

  /**
   * Starts sampling the window `key`, or joins it; returns what ends this shard's part and gives the window's figures
   * so far.
   */
  join(key: string): () => Omit<LoopDelaySample, 'stage'> {
    let window = this.#open.get(key);
    if (!window) {
      const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
      histogram.enable();
      window = { histogram, users: 0 };
      this.#open.set(key, window);
    }
    window.users += 1;
    const joined = window;
    return () => {
      const { histogram } = joined;
      const sample = { p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 };
      joined.users -= 1;
      if (joined.users === 0) {
        histogram.disable();
        this.#open.delete(key);
      }
      return sample;
    };
  }
}

const loopDelayWindows = new LoopDelayWindows();

/** Runs the shard to its end (or until the control aborts) and returns every record. */
export async function runShard(input: ShardInput, deps: ShardDependencies): Promise<ShardResult> {
  return new ShardRun(input, deps).run();
}

class ShardRun {
  readonly #now: () => number;
  readonly #group: ConnectionGroup;
  readonly #connections: ProbeConnection[] = [];
  readonly #loopDelay: LoopDelaySample[] = [];
  readonly #slotWaiters: (() => void)[] = [];
  /** Called once no handshake is in flight. */
  readonly #settledWaiters: (() => void)[] = [];
  /** When this shard saw the run stopped, epoch milliseconds. */
  #stoppedAt: number | undefined;
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
    const readyWhen = input.session?.readyWhen;
    const readyTimeoutMs = (input.session?.readyTimeoutSeconds ?? 0) * 1000;
    this.#group = openConnectionGroup({
      recipe: input.recipe ?? literalRecipe(input.url, input.headers, input.sourceAddresses),
      subprotocols: input.subprotocols,
      handshakeTimeoutMs: input.handshakeTimeoutSeconds * 1000,
      heartbeat: input.heartbeat,
      ...(readyWhen ? { session: { readyWhen, readyTimeoutMs } } : {}),
      shard: input.shard.index,
      now: this.#now,
      onSettled: (record) => this.#onSettled(record),
      onClosed: (record) => this.#onClosed(record),
    });
  }

  async run(): Promise<ShardResult> {
    const { control } = this.deps;
    const stopWatching = control.onAbort(() => (this.#stoppedAt ??= this.#now()));
    let stagesRun = 0;
    try {
      for (let position = 0, stage = this.input.stages[0]; stage; stage = this.#stageAfter(stage, (position += 1))) {
        if (control.signal.aborted) break;
        await this.#sleepUntil(stage.startAt);
        if (control.signal.aborted) break;
        this.#currentStage = stage.index;
        this.deps.onEvent?.({ type: 'stage-started', shard: this.input.shard.index, stage: stage.index });
        await this.#rampAndHold(stage);
        if (control.signal.aborted) break;
        this.deps.onEvent?.({ type: 'stage-ended', shard: this.input.shard.index, stage: stage.index });
        stagesRun += 1;
        if (control.shouldStopAfter(stage.index)) break;
      }
    } finally {
      stopWatching();
      await this.#closeAll();
    }
    return {
      shard: this.input.shard.index,
      records: this.#connections.map((connection) => connection.record),
      loopDelay: this.#loopDelay,
      stagesRun,
      ...(control.abortReason ? { aborted: control.abortReason } : {}),
      ...(this.#stoppedAt !== undefined ? { stoppedAt: this.#stoppedAt } : {}),
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

  /**
   * Ramps and holds one stage, then waits for its pending handshakes, sampling this process's event-loop delay
   * meanwhile, then the host's resources.
   */
  async #rampAndHold(stage: StagePlan): Promise<void> {
    const endSampling = loopDelayWindows.join(`${stage.startAt}-${stage.holdEndsAt}`);
    try {
      const heldOffMs = await this.#ramp(stage);
      await this.#sleepUntil(stage.holdEndsAt + heldOffMs);
      await this.#handshakesSettled();
    } finally {
      this.#loopDelay.push({ stage: stage.index, ...endSampling() });
    }
    await this.deps.watch?.sampleAtStageEnd(stage.index);
  }

  /** Opens the stage's new connections at the shard's pace; returns the milliseconds the control held them off. */
  async #ramp(stage: StagePlan): Promise<number> {
    const { shard } = this.input;
    const count = this.#adaptiveNew.get(stage.index) ?? shard.newPerStage[stage.index] ?? 0;
    const intervalMs = 1000 / shard.connectRate;
    let slot = Math.max(this.#now(), stage.startAt);
    let heldOffMs = 0;
    for (let k = 0; k < count; k += 1) {
      await this.#sleepUntil(slot);
      const heldOff = await this.#awaitClearance();
      if (this.deps.control.signal.aborted) break;
      if (heldOff > 0) {
        // After a hold-off the pace starts again from now: no burst to catch up.
        heldOffMs += heldOff;
        slot = Math.max(slot, this.#now());
      }
      this.#launch(stage.index);
      slot += intervalMs;
    }
    return heldOffMs;
  }

  /**
   * Waits until a new upgrade may go: no hold-off in force and a handshake
   * slot free (a refusal that frees a slot may also start a hold-off, so both
   * are checked again after every wait). Returns the milliseconds spent held off.
   */
  async #awaitClearance(): Promise<number> {
    const { control } = this.deps;
    let heldOff = 0;
    for (;;) {
      const now = this.#now();
      if (control.signal.aborted) return heldOff;
      if (control.resumeAt > now) {
        await this.#sleepUntil(control.resumeAt);
        heldOff += this.#now() - now;
      } else if (this.#inFlight >= this.input.shard.maxInFlight) {
        await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
      } else return heldOff;
    }
  }

  /**
   * Resolves once no handshake of this shard is in flight, or the run is
   * stopped. Each handshake settles by its own deadlines, its session
   * set-up's timeout, one handshake timeout after its upgrade was sent and
   * its ready timeout after that, so this waits at most that long.
   */
  #handshakesSettled(): Promise<void> {
    const { control } = this.deps;
    if (this.#inFlight === 0 || control.signal.aborted) return Promise.resolve();
    const { handshakeTimeoutSeconds, session, setupTimeoutSeconds = 0 } = this.input;
    const readySeconds = session?.readyWhen ? session.readyTimeoutSeconds : 0;
    const seconds = setupTimeoutSeconds + handshakeTimeoutSeconds + readySeconds;
    const boundMs = seconds * 1000 + SETTLE_MARGIN_MS;
    return new Promise((resolve) => {
      let stopWaiting = (): void => undefined;
      const done = (): void => {
        clearTimeout(timer);
        stopWaiting();
        resolve();
      };
      const timer = setTimeout(done, boundMs);
      this.#settledWaiters.push(done);
      stopWaiting = control.onAbort(done);
    });
  }

  #launch(stage: number): void {
    this.#inFlight += 1;
    this.#connections.push(this.#group.open(this.#connections.length, stage));
  }

  #onSettled(record: ConnectionRecord): void {
    this.#inFlight -= 1;
    this.#slotWaiters.shift()?.();
    if (this.#inFlight === 0) this.#settledWaiters.splice(0).forEach((wake) => wake());
    const failureClass = classifyRecord(record, { anyOpenedBefore: this.#anyOpened });
    if (record.outcome === 'opened') this.#anyOpened = true;
    if (failureClass) this.#onFailure(failureClass, record, record.stage);
    this.deps.onEvent?.({ type: 'settled', record, ...(failureClass ? { failureClass } : {}) });
  }

  #onClosed(record: ConnectionRecord): void {
    const failureClass = classifyRecord(record, { anyOpenedBefore: true });
    if (failureClass) this.#onFailure(failureClass, record, this.#currentStage);
    this.deps.onEvent?.({ type: 'closed', record, ...(failureClass ? { failureClass } : {}) });
  }

  /** Counts a failure against `stage`; a fatal one (config error, unreachable, the probe's limits) stops the run. */
  #onFailure(failureClass: FailureClass, record: ConnectionRecord, stage: number): void {
    this.deps.control.recordFailure(stage);
    if (!isFatal(failureClass)) return;
    const detail =
      record.status !== undefined
        ? `HTTP ${record.status}`
        : record.session
          ? `session ${rejectionKey(record.session)}`
          : record.setup
            ? `session set-up ${setupFailureKey(record.setup)}`
            : (record.close?.protocolError ?? record.errorCode ?? record.outcome);
    this.deps.control.abort({ failureClass, message: `${failureClass}: ${detail}` });
  }

  /** Sleeps until `at` (epoch ms), waking early if the run is aborted. */
  #sleepUntil(at: number): Promise<void> {
    const delay = at - this.#now();
    const { control } = this.deps;
    if (delay <= 0 || control.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let stopWaiting = (): void => undefined;
      const timer = setTimeout(() => {
        stopWaiting();
        resolve();
      }, delay);
      stopWaiting = control.onAbort(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #closeAll(): Promise<void> {
    this.#slotWaiters.splice(0).forEach((wake) => wake());
    for (const connection of this.#connections) connection.closeByProbe();
    const allEnded = this.#group.allEnded();
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>(
      (resolve) => (graceTimer = setTimeout(() => resolve('late'), CLOSE_HANDSHAKE_TIMEOUT_MS)),
    );
    if ((await Promise.race([allEnded, grace])) === 'late') {
      for (const connection of this.#connections) connection.terminateByProbe();
      await allEnded;
    }
    clearTimeout(graceTimer);
  }
}
