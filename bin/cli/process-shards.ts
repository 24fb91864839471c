/**
 * Runs the shards of a plan in several probe processes (`--processes N`):
 * the local stand-in for the deployed workers when one process cannot carry
 * a run (its descriptors, one core). Each process is a sandboxed call of
 * process-shards-child.ts with a descriptor limit and a memory size of its
 * own (functions/lambda-sandbox, the machinery `rehearse` uses). The
 * processes are started first and wait, so the plan is made once they are
 * up and its planned start is not spent on their cold starts. Then this
 * process coordinates them as the deployed run is coordinated, and closer:
 * - every process gets its shards (dealt in turn) with the plan's absolute
 *   stage times, so they start and move together;
 * - at each stage end it waits for every process, adds up their failures in
 *   the run's RampControl, samples its own resources, and tells them all
 *   whether ramping stops after the stage, as one process would decide;
 * - a stop anywhere stops every process: the run's control (Ctrl-C, the kill
 *   switch), a process's fatal failure or resource watch, or a process that
 *   fails; each closes its connections with 1000 and answers;
 * - `signal` sends a signal to every process still running, which stops it
 *   as Ctrl-C stops the CLI;
 * - a process that fails (crashes, is killed, runs past its time or memory)
 *   or answers without a shard it had leaves those shards without records,
 *   stopped for a reason that names the process (its number and pid), so the
 *   run is inconclusive, never a lower ceiling.
 * The shard results it returns are merged and recorded by the caller with
 * the record code the deployed record step uses (functions/engine/record.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { underResourceWatch, type ResourceWatch } from '../../functions/connection/resource-watch.js';
import type { PlanRequest } from '../../functions/diagnose/experiment-probe.js';
import { dealShards } from '../../functions/engine/probe-processes.js';
import type { RampControl } from '../../functions/engine/ramp-control.js';
import type { RunningHostCheck } from '../../functions/engine/self-check.js';
import type { ShardAbort, ShardEvent, ShardPlan, ShardResult } from '../../functions/engine/types.js';
import { startInSandbox, type RunningSandbox, type SandboxCall } from '../../functions/lambda-sandbox/sandbox.js';
import type {
  FromProbeProcess,
  ProbeProcessEvent,
  ProbeProcessOutput,
  ProcessRun,
  ToProbeProcess,
} from './process-shards-messages.js';

/** How long closed processes get to close their connections with 1000 and answer before they are killed. */
const CLOSE_GRACE_MS = 5000;

/** How the probe processes are started. */
export interface ProbeProcessesOptions {
  /** How many. */
  processes: number;
  /** Descriptor limit of each (ulimit -n): at most this process's hard limit. */
  descriptors: number;
  /** Memory size of each, MB: its heap is limited to 90 % of it, and resident memory above it stops it. */
  memoryMb: number;
  /** Bound on each process's whole life, seconds: the run's expected length and a margin. */
  timeoutSeconds: number;
  /** Each line a process writes on stdout or stderr. */
  onOutput?: (process: number, line: string) => void;
}

/** A probe process, started and waiting for its run. */
export interface ProbeProcessInfo {
  /** From 0; its name counts from 1. */
  index: number;
  pid: number;
  /** Milliseconds from starting it to its waiting for the run (its cold start). */
  startMs: number;
}

/** How a probe process ended. */
export interface ProbeProcessEnd extends ProbeProcessInfo {
  /** Its error as the sandbox reports it, when it failed. */
  error?: string;
  /** Highest resident memory seen, bytes. */
  peakRssBytes: number | null;
  /** The first stop signal it got, when it answered. */
  signal?: NodeJS.Signals;
}

/** What a run of the plan needs besides the request. */
export interface ProcessPlanOptions {
  /** The running self-check of this process (it holds the simulator, when there is one): sampled at each stage end. */
  host?: RunningHostCheck;
  /** Local addresses the run's connections leave from in turn (default 1: the system's choice). */
  sourceAddresses?: number;
}

/** Probe processes started and waiting: run one plan over them, or close them. */
export interface ProbeProcesses {
  readonly processes: readonly ProbeProcessInfo[];
  /**
   * Runs every shard of the plan, dealt over the processes, and resolves with every shard's result in shard order.
   * Once per set of processes; adaptive stages (`nextStage`) cannot be shared and are refused.
   */
  runPlan(request: PlanRequest, options?: ProcessPlanOptions): Promise<ShardResult[]>;
  /** Sends `signal` to every process still running; returns how many got it. */
  signal(signal: NodeJS.Signals): number;
  /**
   * Stops every process still running (a waiting one answers at once, a running one closes its connections with 1000
   * first; any still running after a grace is killed) and resolves with how each ended; safe to call more than once.
   */
  close(): Promise<ProbeProcessEnd[]>;
}

/**
 * Starts `options.processes` probe processes and resolves once every one is
 * waiting for its run. When one cannot start, the others are stopped and this
 * rejects with its error.
 */
export async function startProbeProcesses(options: ProbeProcessesOptions): Promise<ProbeProcesses> {
  const fleet = new ProcessFleet(options);
  await fleet.started();
  return fleet;
}

/** One probe process and what this side knows of it. */
interface Member {
  index: number;
  name: string;
  sandbox: RunningSandbox;
  startedAt: number;
  waitingAt?: number;
  /** Resolves once the process waits for its run. */
  waiting: Promise<void>;
  ended?: SandboxCall;
}

/** The run in progress. */
interface FleetRun {
  control: RampControl;
  onEvent?: (event: ShardEvent) => void;
  watch?: Pick<ResourceWatch, 'sampleAtStageEnd'>;
  /** Each process's shards. */
  dealt: ShardPlan[][];
  /** Processes still running their share. */
  live: Set<number>;
  /** Processes that have ended each stage, and the stages decided. */
  arrived: Map<number, Set<number>>;
  decided: Set<number>;
}

class ProcessFleet implements ProbeProcesses {
  readonly #members: Member[];
  #run: FleetRun | undefined;
  #used = false;

  constructor(options: ProbeProcessesOptions) {
    const modulePath = childModulePath();
    this.#members = Array.from({ length: options.processes }, (_, index) => {
      let onWaiting: () => void = () => undefined;
      const waiting = new Promise<void>((resolve) => (onWaiting = resolve));
      const event: ProbeProcessEvent = { index, count: options.processes, memoryMb: options.memoryMb };
      const startedAt = Date.now();
      const sandbox = startInSandbox(
        {
          name: `probe-process-${index + 1}`,
          modulePath,
          exportName: 'runProbeProcess',
          limits: {
            memoryMb: options.memoryMb,
            timeoutSeconds: options.timeoutSeconds,
            descriptors: options.descriptors,
          },
          environment: {},
        },
        event,
        {
          onMessage: (data) => this.#onMessage(member, data as FromProbeProcess, onWaiting),
          ...(options.onOutput ? { onOutput: (line: string) => options.onOutput?.(index, line) } : {}),
        },
      );
      const member: Member = {
        index,
        name: `probe process ${index + 1} of ${options.processes} (pid ${sandbox.pid})`,
        sandbox,
        startedAt,
        waiting,
      };
      void sandbox.ended.then((call) => this.#onEnded(member, call));
      return member;
    });
  }

  get processes(): ProbeProcessInfo[] {
    return this.#members.map((member) => ({
      index: member.index,
      pid: member.sandbox.pid,
      startMs: (member.waitingAt ?? Date.now()) - member.startedAt,
    }));
  }

  /** Resolves once every process waits; rejects, after stopping the others, when one ends first. */
  async started(): Promise<void> {
    const failed = await Promise.race([
      Promise.all(this.#members.map((member) => member.waiting)).then(() => undefined),
      ...this.#members.map((member) => member.sandbox.ended.then((call) => ({ member, call }))),
    ]);
    if (!failed) return;
    await this.close();
    throw new Error(`${failed.member.name} could not start: ${describeEnd(failed.call)}`);
  }

  async runPlan(request: PlanRequest, options: ProcessPlanOptions = {}): Promise<ShardResult[]> {
    if (this.#used) throw new Error('a set of probe processes runs one plan');
    this.#used = true;
    if (request.nextStage) throw new Error('adaptive stages (nextStage) run in one process, not over probe processes');
    const { settings, plan, control } = request;
    const dealt = dealShards(plan.shards, this.#members.length);
    if (dealt.some((shards) => shards.length === 0)) {
      throw new Error(
        `${this.#members.length} probe processes need at least as many shards; the plan has ${plan.shards.length}`,
      );
    }
    const live = new Set(this.#members.filter((member) => !member.ended).map((member) => member.index));
    return underResourceWatch(options.host, control, async (watch) => {
      this.#run = {
        control,
        ...(request.onEvent ? { onEvent: request.onEvent } : {}),
        ...(watch ? { watch } : {}),
        dealt,
        live,
        arrived: new Map(),
        decided: new Set(),
      };
      const stopForwarding = control.onAbort(() => this.#broadcast({ kind: 'abort', reason: abortOf(control) }));
      // A process that ended while it waited cannot run its shards: the run stops before anything is sent.
      const gone = this.#members.find((member) => member.ended);
      if (gone?.ended) {
        const shard = dealt[gone.index]?.[0]?.index ?? 0;
        control.abort({ failureClass: 'interrupted', message: lostMessage(gone, gone.ended, shard) });
      }
      try {
        for (const member of this.#members) {
          const run: ProcessRun = {
            settings,
            stages: plan.stages,
            shards: dealt[member.index] ?? [],
            heartbeats: (dealt[member.index] ?? []).flatMap((shard) => {
              const heartbeat = request.heartbeatOf?.(shard.index);
              return heartbeat ? [[shard.index, heartbeat] as const] : [];
            }),
            sourceAddresses: options.sourceAddresses ?? 1,
            events: request.onEvent !== undefined,
          };
          this.#send(member, { kind: 'run', run });
        }
        const results = await Promise.all(
          this.#members.map(async (member) => resultsOf(member, await member.sandbox.ended, dealt[member.index] ?? [])),
        );
        return results.flat().sort((a, b) => a.shard - b.shard);
      } finally {
        stopForwarding();
        this.#run = undefined;
      }
    });
  }

  signal(signal: NodeJS.Signals): number {
    return this.#members.filter((member) => !member.ended && member.sandbox.kill(signal)).length;
  }

  async close(): Promise<ProbeProcessEnd[]> {
    const reason: ShardAbort = { failureClass: 'interrupted', message: 'stopped: the probe processes were closed' };
    this.#broadcast({ kind: 'dismiss' });
    this.#broadcast({ kind: 'abort', reason });
    const allEnded = Promise.all(this.#members.map((member) => member.sandbox.ended));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([allEnded, grace]);
    clearTimeout(timer);
    for (const member of this.#members) if (!member.ended) member.sandbox.kill('SIGKILL');
    const calls = await allEnded;
    return this.#members.map((member, index) => {
      const call = calls[index] as SandboxCall;
      return {
        index: member.index,
        pid: member.sandbox.pid,
        startMs: (member.waitingAt ?? call.endedAt) - member.startedAt,
        peakRssBytes: call.peakRssBytes,
        ...(call.outcome.ok ? signalOf(call) : { error: describeEnd(call) }),
      };
    });
  }

  #onMessage(member: Member, message: FromProbeProcess, onWaiting: () => void): void {
    if (message.kind === 'waiting') {
      member.waitingAt = Date.now();
      onWaiting();
      return;
    }
    const run = this.#run;
    if (!run) return;
    if (message.kind === 'events') {
      for (const event of message.events) run.onEvent?.(event);
    } else if (message.kind === 'abort') run.control.abort(message.reason);
    else {
      for (let failure = 0; failure < message.failures; failure += 1) run.control.recordFailure(message.stage);
      const arrived = run.arrived.get(message.stage) ?? new Set<number>();
      arrived.add(member.index);
      run.arrived.set(message.stage, arrived);
      this.#decideStages(run);
    }
  }

  /**
   * A process ended: it no longer holds a stage back, and unless it answered with every shard it had, the run stops
   * for the reason its missing shards give.
   */
  #onEnded(member: Member, call: SandboxCall): void {
    member.ended = call;
    const run = this.#run;
    if (!run) return;
    run.live.delete(member.index);
    const lost = (run.dealt[member.index] ?? []).find((shard) => !answeredShard(call, shard.index));
    if (lost) run.control.abort({ failureClass: 'interrupted', message: lostMessage(member, call, lost.index) });
    this.#decideStages(run);
  }

  /** Decides every stage that every live process has ended, in order. */
  #decideStages(run: FleetRun): void {
    for (const [stage, arrived] of [...run.arrived].sort(([a], [b]) => a - b)) {
      if (run.decided.has(stage) || [...run.live].some((index) => !arrived.has(index))) continue;
      run.decided.add(stage);
      void this.#decide(run, stage);
    }
  }

  /** After this process's own sample, tells every live process whether ramping stops after `stage`. */
  async #decide(run: FleetRun, stage: number): Promise<void> {
    await run.watch?.sampleAtStageEnd(stage);
    this.#broadcast({ kind: 'stage-verdict', stage, stop: run.control.shouldStopAfter(stage) });
  }

  #broadcast(message: ToProbeProcess): void {
    for (const member of this.#members) if (!member.ended) this.#send(member, message);
  }

  #send(member: Member, message: ToProbeProcess): void {
    member.sandbox.post(message);
  }
}

/** The reason the run's control stopped for, or a plain stop when it has none. */
function abortOf(control: RampControl): ShardAbort {
  return control.abortReason ?? { failureClass: 'interrupted', message: 'stopped' };
}

/**
 * The results of a process's shards: what it answered, with a stand-in that
 * has no records for each shard it did not answer with or when it failed,
 * stopped for a reason that names the process.
 */
function resultsOf(member: Member, call: SandboxCall, shards: readonly ShardPlan[]): ShardResult[] {
  return shards.map((shard) => {
    const result = answeredShard(call, shard.index);
    if (result) return result;
    return {
      shard: shard.index,
      records: [],
      loopDelay: [],
      stagesRun: 0,
      aborted: { failureClass: 'interrupted', message: lostMessage(member, call, shard.index) },
      sharesProcess: true,
    };
  });
}

/** The stop signal a process that answered says it got. */
function signalOf(call: SandboxCall): { signal?: NodeJS.Signals } {
  const signal = call.outcome.ok ? (call.outcome.value as ProbeProcessOutput | null)?.signal : undefined;
  return signal ? { signal } : {};
}

/** The result of `shard` in a process's answer, if it answered with one. */
function answeredShard(call: SandboxCall, shard: number): ShardResult | undefined {
  const answered = call.outcome.ok ? ((call.outcome.value as ProbeProcessOutput | null)?.results ?? []) : [];
  return answered.find((candidate) => candidate.shard === shard);
}

/** Why a process left `shard` without records: it failed, or it answered without it. */
function lostMessage(member: Member, call: SandboxCall, shard: number): string {
  return call.outcome.ok
    ? `${member.name} answered without a result for shard ${shard}`
    : `${member.name} failed: ${describeEnd(call)}`;
}

/** A call's failure in a few words: its type and message, without the request id. */
function describeEnd(call: SandboxCall): string {
  if (call.outcome.ok) return 'it answered';
  const { errorType, errorMessage } = call.outcome.error;
  return `${errorType}: ${errorMessage.replace(/^RequestId: \S+ (Error: )?/, '')}`;
}

/**
 * The compiled child module: next to this module when it runs compiled
 * (dist/), or in dist/ when this module runs from its TypeScript source (tests).
 */
function childModulePath(): string {
  const candidates = [
    new URL('./process-shards-child.js', import.meta.url),
    new URL('../../dist/bin/cli/process-shards-child.js', import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`the probe process module is not built (${candidates[1]}): run npm run build`);
  return found;
}
