/**
 * One probe process of a run spread over several (`--processes`): the
 * function each process's sandbox calls (see process-shards.ts). It says it
 * is waiting, takes its shards of the plan, checks that they fit this
 * process (descriptors, memory, heap), then runs them as the local CLI and
 * the worker Lambda do: the connection layer's runShard for each, under one
 * resource watch of this process, with one RampControl that mirrors the
 * run's:
 * - the failures it counts are reported at each stage end, and the parent's
 *   verdict for the run as a whole decides whether ramping stops after it
 *   (each shard waits for it before its next stage);
 * - a stop it makes itself (a fatal failure, its resource watch, a signal)
 *   names this process and goes to the parent, which stops the others;
 * - a stop from the parent (the kill switch, another process) stops it.
 * SIGINT, SIGTERM and SIGHUP stop it as Ctrl-C stops the CLI: every
 * connection is closed with 1000 and the records are returned.
 */
import type { ResourceWatch } from '../../functions/connection/resource-watch.js';
import { underResourceWatch } from '../../functions/connection/resource-watch.js';
import { runShard, shardInputOf } from '../../functions/connection/shard-runner.js';
import { shardPeak } from '../../functions/engine/probe-processes.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { describeSelfCheckProblems, selfCheckHost, type ProbeDemand } from '../../functions/engine/self-check.js';
import type { ShardAbort, ShardEvent, ShardResult } from '../../functions/engine/types.js';
import type { SandboxChannel } from '../../functions/lambda-sandbox/sandbox-protocol.js';
import { lambdaBudgetSources, readHostBudget } from '../../functions/probe-host/host-budget.js';
import type {
  FromProbeProcess,
  ProbeProcessEvent,
  ProbeProcessOutput,
  ProcessRun,
  ToProbeProcess,
} from './process-shards-messages.js';

/** The signals that stop a probe process's run. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Longest a shard event waits before it goes to the parent with the others. */
const EVENT_BATCH_MS = 100;

/**
 * The run's RampControl as one process sees it: it counts this process's
 * failures per stage, takes the parent's verdict for each stage, names this
 * process in a stop it makes and tells the parent of it.
 */
export class ProcessRampControl extends RampControl {
  readonly #failures = new Map<number, number>();
  readonly #verdicts = new Map<number, boolean>();
  readonly #verdictWaiters = new Map<number, Array<() => void>>();

  /**
   * @param run the settings' tolerance, stage targets and rule decide a stage only until the parent's verdict comes
   * @param name this process, put in front of the reason of a stop it makes
   * @param report tells the parent of a stop this process made
   */
  constructor(
    run: Pick<ProcessRun, 'settings'>,
    private readonly name: string,
    private readonly report: (reason: ShardAbort) => void,
  ) {
    super(run.settings.tolerance, run.settings.stages, run.settings.stopAtFirstFailingStage);
    this.onAbort(() => this.#wakeAll());
  }

  override recordFailure(stage: number): void {
    super.recordFailure(stage);
    this.#failures.set(stage, this.failuresIn(stage) + 1);
  }

  /** Failures this process counted in `stage`. */
  failuresIn(stage: number): number {
    return this.#failures.get(stage) ?? 0;
  }

  /** The parent's verdict when it has come, else this process's own view. */
  override shouldStopAfter(stage: number): boolean {
    if (this.signal.aborted) return true;
    return this.#verdicts.get(stage) ?? super.shouldStopAfter(stage);
  }

  /** A stop this process makes: its reason names the process, and the parent hears of it. */
  override abort(reason: ShardAbort): void {
    if (this.abortReason) return;
    const named = { ...reason, message: `${this.name}: ${reason.message}` };
    super.abort(named);
    this.report(named);
  }

  /** A stop the parent asked for: its reason as given, not reported back. */
  abortFromParent(reason: ShardAbort): void {
    super.abort(reason);
  }

  /** Takes the parent's verdict for `stage`. */
  settle(stage: number, stop: boolean): void {
    this.#verdicts.set(stage, stop);
    for (const wake of this.#verdictWaiters.get(stage) ?? []) wake();
    this.#verdictWaiters.delete(stage);
  }

  /** Resolves once the parent's verdict for `stage` is in, or the run is stopped. */
  verdictOf(stage: number): Promise<void> {
    if (this.signal.aborted || this.#verdicts.has(stage)) return Promise.resolve();
    return new Promise((resolve) =>
      this.#verdictWaiters.set(stage, [...(this.#verdictWaiters.get(stage) ?? []), resolve]),
    );
  }

  #wakeAll(): void {
    for (const waiters of this.#verdictWaiters.values()) for (const wake of waiters) wake();
    this.#verdictWaiters.clear();
  }
}

/**
 * The watch the shards of this process sample at each stage end: this
 * process's resource watch, then the stage's end for the run as a whole. The
 * last shard of the process to end a stage reports it (its failures, after
 * its pending events); every shard then waits for the parent's verdict.
 */
export function stageEnds(
  inner: Pick<ResourceWatch, 'sampleAtStageEnd'> | undefined,
  shards: number,
  control: ProcessRampControl,
  post: (message: FromProbeProcess) => void,
  flushEvents: () => void,
): Pick<ResourceWatch, 'sampleAtStageEnd'> {
  const arrived = new Map<number, number>();
  return {
    async sampleAtStageEnd(stage) {
      await inner?.sampleAtStageEnd(stage);
      const count = (arrived.get(stage) ?? 0) + 1;
      arrived.set(stage, count);
      if (count === shards) {
        flushEvents();
        post({ kind: 'stage-end', stage, failures: control.failuresIn(stage) });
      }
      await control.verdictOf(stage);
    },
  };
}

/** Shard events gathered and sent to the parent together, at most EVENT_BATCH_MS after the first. */
function eventBatcher(post: (message: FromProbeProcess) => void) {
  let pending: ShardEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    post({ kind: 'events', events: pending });
    pending = [];
  };
  const push = (event: ShardEvent): void => {
    pending.push(event);
    timer ??= setTimeout(flush, EVENT_BATCH_MS);
  };
  return { push, flush };
}

/**
 * The call of one probe process: waits for its run (or a dismissal, or a
 * stop signal), runs its shards and returns their results.
 */
export async function runProbeProcess(event: ProbeProcessEvent, context: SandboxChannel): Promise<ProbeProcessOutput> {
  const name = `probe process ${event.index + 1} of ${event.count} (pid ${process.pid})`;
  const post = (message: FromProbeProcess) => context.postToParent(message);
  let control: ProcessRampControl | undefined;
  // A stop that comes before the control exists (with the run, or before it) is kept for it.
  let stoppedBy: NodeJS.Signals | undefined;
  let parentAbort: ShardAbort | undefined;
  let begin: (run: ProcessRun | undefined) => void = () => undefined;
  const started = new Promise<ProcessRun | undefined>((resolve) => (begin = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    stoppedBy ??= signal;
    if (!control) begin(undefined);
    control?.abort({ failureClass: 'interrupted', message: `stopped by ${signal}` });
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  const stopListening = context.onParentMessage((data) => {
    const message = data as ToProbeProcess;
    if (message.kind === 'run') begin(message.run);
    else if (message.kind === 'dismiss') begin(undefined);
    else if (message.kind === 'abort') {
      parentAbort ??= message.reason;
      control?.abortFromParent(message.reason);
    } else control?.settle(message.stage, message.stop);
  });
  try {
    post({ kind: 'waiting' });
    const run = await started;
    const signalled = () => (stoppedBy ? { signal: stoppedBy } : {});
    if (!run) return { results: [], ...signalled() };
    control = new ProcessRampControl(run, name, (reason) => post({ kind: 'abort', reason }));
    if (parentAbort) control.abortFromParent(parentAbort);
    if (stoppedBy) control.abort({ failureClass: 'interrupted', message: `stopped by ${stoppedBy}` });
    const results = await runShards(run, event, control, post);
    return { results, ...signalled() };
  } finally {
    stopListening();
    for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
  }
}

/** Checks this process's share, then runs its shards under its resource watch; returns their results. */
async function runShards(
  run: ProcessRun,
  event: ProbeProcessEvent,
  control: ProcessRampControl,
  post: (message: FromProbeProcess) => void,
): Promise<ShardResult[]> {
  const connections = run.shards.reduce((total, shard) => total + shardPeak(shard), 0);
  const demand: ProbeDemand = {
    connectionsPerProcess: connections,
    costPerConnection: 1,
    connectionsPerTargetAddress: Math.ceil(connections / Math.max(1, run.sourceAddresses)),
    shardsShareProcess: true,
  };
  const { selfCheck, running } = await selfCheckHost(demand, () => readHostBudget(lambdaBudgetSources(event.memoryMb)));
  if (!selfCheck.ok) {
    control.abort({ failureClass: 'probe-limited', message: describeSelfCheckProblems(selfCheck) });
    return run.shards.map((shard) => ({
      shard: shard.index,
      records: [],
      loopDelay: [],
      stagesRun: 0,
      ...(control.abortReason ? { aborted: control.abortReason } : {}),
      sharesProcess: true,
    }));
  }
  const heartbeats = new Map(run.heartbeats);
  const events = eventBatcher(post);
  try {
    return await underResourceWatch(running, control, async (watch) => {
      const ends = stageEnds(watch, run.shards.length, control, post, events.flush);
      const results = await Promise.all(
        run.shards.map((shard) =>
          runShard(
            {
              ...shardInputOf(run.settings, run.stages, shard),
              heartbeat: heartbeats.get(shard.index) ?? run.settings.heartbeat,
            },
            { control, watch: ends, ...(run.events ? { onEvent: events.push } : {}) },
          ),
        ),
      );
      return results.map((result) => ({ ...result, sharesProcess: true }));
    });
  } finally {
    events.flush();
  }
}
