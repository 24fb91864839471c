/**
 * `--processes N|auto` in the local probe pipeline: whether the ramp of `run`
 * and `diagnose` runs in this process or over probe processes, the
 * self-check across them, and the runner that starts them. One process is
 * the default; `auto` stays in one while this process carries the plan. Over
 * several, the check judges each resource where it runs out
 * (functions/engine/process-self-check.ts), the processes are started only
 * once it passes, and the plan is made again after their cold starts (same
 * run id, later start), so every process meets the first stage in time. The
 * shards' results come back to the caller, which merges and records them as
 * from one process (functions/engine/record.ts, the deployed record step's
 * code). The follow-up experiments of `diagnose` adapt their stages as they
 * go, which cannot be shared, so they run in this process.
 */
import os from 'node:os';
import type { PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { expectedSeconds, planRun } from '../../functions/engine/plan.js';
import {
  parseProcesses,
  resolveProcesses,
  shardPeak,
  type ProcessesChoice,
} from '../../functions/engine/probe-processes.js';
import {
  checkProcesses,
  fewestProcesses,
  probeProcessCapacity,
  probeProcessDescriptorLimit,
  probeProcessMemoryMb,
  processPeaks,
  type ProcessesBudget,
  type ProcessesCheck,
} from '../../functions/engine/process-self-check.js';
import { selfCheckHost, type SelfCheck } from '../../functions/engine/self-check.js';
import type { ProbePlan } from '../../functions/engine/types.js';
import { readHostBudget } from '../../functions/probe-host/host-budget.js';
import type { CommandIo } from './cli-context.js';
import { startProbeProcesses } from './process-shards.js';
import type { ProbeTarget } from './probe-target.js';
import { readMachineBudget } from './rehearsal-preflight.js';

/** Delay from the plan made after the processes are up to its first stage: each gets its shards and checks them. */
const PROCESS_START_DELAY_MS = 500;
/** Margin of each process's time bound beyond the plan's length and the handshake timeout, seconds. */
const PROCESS_TIMEOUT_MARGIN_SECONDS = 60;

/** Parses `--processes` (default 1); throws InvalidInputError naming the flag, before anything starts. */
export function processesChoiceOf(text: string | undefined): ProcessesChoice {
  return parseProcesses(text ?? '1');
}

/** The ramp as it runs: its plan (made again when processes started), the runner, and how to let go of them. */
export interface RampRunner {
  plan: ProbePlan;
  runPlan: PlanRunner;
  /** Stops the processes, if any, once the ramp is over; says on stderr how one that failed ended. */
  close(): Promise<void>;
}

/** A run over several probe processes, checked and not started yet. */
export interface SpreadRun {
  processes: number;
  selfCheck: ProcessesCheck;
  /** Starts the processes (only when the check passed) and makes the plan again after their cold starts. */
  start(io: CommandIo): Promise<RampRunner>;
}

/**
 * How many probe processes the run of `plan` uses, and their check, or
 * undefined when it runs in this process: `--processes 1`, or `auto` while
 * this process's own check (`inProcess`) passes. Throws InvalidInputError
 * naming --processes when the plan has fewer shards than the processes asked for.
 */
export async function spreadOverProcesses(
  target: ProbeTarget,
  plan: ProbePlan,
  choice: ProcessesChoice,
  inProcess: SelfCheck,
): Promise<SpreadRun | undefined> {
  if (choice.kind === 'count' && choice.count === 1) return undefined;
  const budget = await readMachineBudget(await readHostBudget());
  const shardPeaks = plan.shards.map(shardPeak);
  const limit = probeProcessDescriptorLimit(budget);
  const processes = resolveProcesses(choice, {
    shards: plan.shards.length,
    peak: Math.max(...target.settings.stages),
    shardSize: target.settings.shardSize,
    cores: os.availableParallelism(),
    processesNeeded: inProcess.ok
      ? 1
      : limit === null
        ? null
        : fewestProcesses(shardPeaks, probeProcessCapacity(limit)),
  });
  if (processes === 1) return undefined;
  const sourceAddresses = sourceAddressCount(target);
  const selfCheck = checkProcesses({ processes, shardPeaks, sourceAddresses, simulatorHere: target.simulated }, budget);
  return { processes, selfCheck, start: (io) => startSpread(target, plan, processes, shardPeaks, budget, io) };
}

/** Local addresses the run's connections leave from in turn (`--source-address`); 1 when the system chooses. */
function sourceAddressCount(target: ProbeTarget): number {
  return Math.max(1, target.settings.sourceAddresses?.length ?? 1);
}

/**
 * The check of a run in this process, with one more way out when it runs out
 * of descriptors: the fewest probe processes that would carry the plan, each
 * with descriptors of its own. Not with `--simulate`, whose server side stays
 * in this process however many probe processes there are.
 */
export async function withProcessesFix(check: SelfCheck, target: ProbeTarget, plan: ProbePlan): Promise<SelfCheck> {
  const descriptors = check.problems.find((problem) => problem.resource === 'descriptors');
  if (!descriptors || target.simulated) return check;
  const limit = probeProcessDescriptorLimit(await readMachineBudget(await readHostBudget()));
  const fewest = limit === null ? null : fewestProcesses(plan.shards.map(shardPeak), probeProcessCapacity(limit));
  if (fewest === null || fewest < 2) return check;
  const fix =
    `${descriptors.fix}; or run the shards in ${fewest} probe processes, each with descriptors of its own: ` +
    `--processes ${fewest} (or auto)`;
  return {
    ...check,
    problems: check.problems.map((problem) => (problem === descriptors ? { ...problem, fix } : problem)),
  };
}

/** Starts the probe processes, says so on stderr, and makes the plan again from now. */
async function startSpread(
  target: ProbeTarget,
  plan: ProbePlan,
  processes: number,
  shardPeaks: readonly number[],
  budget: ProcessesBudget,
  io: CommandIo,
): Promise<RampRunner> {
  const { settings } = target;
  const descriptors = probeProcessDescriptorLimit(budget) ?? 1024;
  const memoryMb = probeProcessMemoryMb(Math.max(...processPeaks(shardPeaks, processes)));
  const timeoutSeconds = Math.ceil(
    expectedSeconds(plan) +
      PROCESS_START_DELAY_MS / 1000 +
      settings.handshakeTimeoutSeconds +
      PROCESS_TIMEOUT_MARGIN_SECONDS,
  );
  const fleet = await startProbeProcesses({
    processes,
    descriptors,
    memoryMb,
    timeoutSeconds,
    onOutput: (index, line) => io.stderr.write(`[probe process ${index + 1}] ${line}\n`),
  });
  const pids = fleet.processes.map((info) => info.pid).join(', ');
  io.stderr.write(
    `Started ${processes} probe processes (pids ${pids}), each with ${descriptors} descriptors and ${memoryMb} MB.\n`,
  );
  // The parent holds the simulator's side of every connection when it runs here: its own watch samples that.
  const parentDemand = {
    connectionsPerProcess: target.simulated ? Math.max(...settings.stages) : 0,
    costPerConnection: 1,
    connectionsPerTargetAddress: Math.max(...settings.stages),
    sourceAddresses: sourceAddressCount(target),
    shardsShareProcess: true,
  };
  const { running } = await selfCheckHost(parentDemand, () => readHostBudget());
  const replanned = planRun(settings, {
    now: Date.now,
    newRunId: () => plan.runId,
    startDelayMs: PROCESS_START_DELAY_MS,
  });
  return {
    plan: replanned,
    runPlan: (request) => fleet.runPlan(request, { host: running, sourceAddresses: sourceAddressCount(target) }),
    async close() {
      const ends = await fleet.close();
      for (const end of ends) {
        if (end.error !== undefined) io.stderr.write(`Probe process ${end.index + 1} (pid ${end.pid}): ${end.error}\n`);
      }
    },
  };
}

/** The ramp in this process: the plan as made, and the runner of this process's own check. */
export function inProcessRamp(plan: ProbePlan, runPlan: PlanRunner): RampRunner {
  return { plan, runPlan, close: () => Promise.resolve() };
}
