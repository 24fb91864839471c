/**
 * The local probe pipeline `run` and `diagnose` share. It composes the same
 * three steps as the deployed run: plan, every shard's runShard in this
 * process, then record into the embedded store. Before it sends anything, a
 * self-check compares the plan with this process's descriptors, local ports
 * and memory; a plan the probe cannot carry is `inconclusive`, never a
 * ceiling. While shards run, a resource watch keeps checking (once a second
 * and at each stage end), and a shortfall stops the run as `probe-limited`.
 * Ctrl-C stops the run and it is still recorded. The --junit and --markdown
 * files are written last, so a file that cannot be written never hides the
 * result.
 */
import { randomUUID } from 'node:crypto';
import type { PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { countFailures } from '../../functions/engine/failures.js';
import { planRun } from '../../functions/engine/plan.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { publicSettings, recordRun, type RecordedRun } from '../../functions/engine/record.js';
import { redactUrl } from '../../functions/engine/redact.js';
import { describeSelfCheckProblems, selfCheckHost, type SelfCheck } from '../../functions/engine/self-check.js';
import type {
  LimitingFactor,
  ProbePlan,
  ProbeSettings,
  RunResult,
  ShardEvent,
  ShardResult,
  Verdict,
} from '../../functions/engine/types.js';
import { readHostBudget } from '../../functions/probe-host/host-budget.js';
import { writeCiOutputs } from '../../functions/report/ci-outputs.js';
import type { CommandIo } from './cli-context.js';
import { EXIT_CODES } from './exit-codes.js';
import { openLocalStore } from './local-store.js';
import { runPlanShards } from './local-shards.js';
import { withProbeTarget, type ProbeTarget } from './probe-target.js';
import { startProgressDisplay } from './progress.js';
import type { RunCommandFlags } from './run-flags.js';
import { storeFlag } from './shared-options.js';
import { describePlan, describeResult, describeStored } from './summary.js';

/** Delay before the first stage so every shard is ready. */
const LOCAL_START_DELAY_MS = 250;

/** A run the self-check refused before sending anything: printed like a run, never stored, never a ceiling. */
export interface PreflightRefusal {
  targetId: string;
  url: string;
  verdict: Extract<Verdict, 'inconclusive'>;
  verdictReason: string;
  ceiling: { value: null; reached: false };
  dropOnset: null;
  limitingFactor: LimitingFactor;
  selfCheck: SelfCheck;
}

/** A probe that ran and was recorded: the stored run, and what the follow-up experiments build on. */
export interface RecordedProbe {
  settings: ProbeSettings;
  recorded: RecordedRun;
  plan: ProbePlan;
  shards: ShardResult[];
  selfCheck: SelfCheck;
  /** Runs further plans in this process under the same resource watch. */
  runPlan: PlanRunner;
}

/** What a command prints once the probe is over; each returns the exit code. */
export interface ProbeHandlers {
  /** The self-check refused the plan: nothing was sent, stored or written. */
  refused(refusal: PreflightRefusal): number;
  /** The run is recorded; the --junit and --markdown files are written after this returns. */
  recorded(probe: RecordedProbe): Promise<number> | number;
}

/**
 * The whole local probe: resolves the target (a URL or --simulate), opens
 * the store, plans, prints the plan, self-checks the plan against this host,
 * runs every shard in this process with live progress and records the run.
 * Hands the outcome to `handlers`, then writes the --junit and --markdown
 * files of a recorded run; returns the handler's exit code.
 */
export function probeLocally(
  urlArgument: string | undefined,
  flags: RunCommandFlags,
  io: CommandIo,
  handlers: ProbeHandlers,
): Promise<number> {
  return withProbeTarget(urlArgument, flags, io, async (target) => {
    const outcome = await probeOnce(target, flags, io);
    if (outcome.kind === 'refused') return handlers.refused(outcome.refusal);
    const exitCode = await handlers.recorded(outcome.probe);
    await writeCiFiles(outcome.probe.recorded.run, flags, io);
    return exitCode;
  });
}

/** Prints a recorded run in plain words (the answer, then where it is stored), as `run` and `diagnose` do. */
export function printRecordedRun(
  { run, stored }: RecordedRun,
  flags: Pick<RunCommandFlags, 'store'>,
  io: CommandIo,
): void {
  io.stdout.write(`\n${describeResult(run)}\n\n`);
  io.stdout.write(
    `${describeStored(stored, run.targetId, { store: flags.store, historyFlags: storeFlag(flags.store) })}\n`,
  );
}

/** Prints a refused run (plain or --json) and returns exit code 3. */
export function printRefusal(refusal: PreflightRefusal, flags: Pick<RunCommandFlags, 'json'>, io: CommandIo): number {
  if (flags.json) io.stdout.write(`${JSON.stringify(refusal, null, 2)}\n`);
  else
    io.stdout.write(
      `Run of ${refusal.targetId}: INCONCLUSIVE (self-check; nothing was sent)\n  ${refusal.verdictReason}\n`,
    );
  return EXIT_CODES.probeFailed;
}

/** Ctrl-C as a kill switch: aborts the returned signal until `dispose` is called. */
export function interruptOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const interrupt = () => controller.abort(new Error('stopped by SIGINT'));
  process.once('SIGINT', interrupt);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', interrupt) };
}

/**
 * One probe of a resolved target: plans, prints the plan, self-checks, runs
 * the shards and records the run. A plan the host cannot carry is refused
 * before anything is sent.
 */
async function probeOnce(
  target: ProbeTarget,
  flags: RunCommandFlags,
  io: CommandIo,
): Promise<{ kind: 'refused'; refusal: PreflightRefusal } | { kind: 'recorded'; probe: RecordedProbe }> {
  const { settings } = target;
  const local = await openLocalStore(flags.store);
  try {
    const plan = planRun(settings, { now: Date.now, newRunId: randomUUID, startDelayMs: LOCAL_START_DELAY_MS });
    const planText = describePlan(
      plan,
      publicSettings(settings, plan),
      redactUrl(settings.url),
      settings.stopAtFirstFailingStage,
    );
    (flags.json ? io.stderr : io.stdout).write(`${planText}\n\n`);
    const { selfCheck, runPlan } = await selfCheckPlan(target);
    if (!selfCheck.ok) return { kind: 'refused', refusal: preflightRefusal(settings, selfCheck) };
    const shards = await runWithProgress(settings, plan, io, runPlan);
    const recorded = await recordRun(
      { settings, plan, shards, region: 'local', finishedAt: Date.now() },
      { store: local.store },
    );
    return { kind: 'recorded', probe: { settings, recorded, plan, shards, selfCheck, runPlan } };
  } finally {
    await local.close();
  }
}

/**
 * The pre-flight: every shard runs in this process, so it must carry the
 * plan's largest stage. Gives the check and the plan runner that keeps
 * checking the host while shards run (once a second and at each stage end).
 */
async function selfCheckPlan(target: ProbeTarget): Promise<{ selfCheck: SelfCheck; runPlan: PlanRunner }> {
  const peak = Math.max(...target.settings.stages);
  const demand = {
    connectionsPerProcess: peak,
    costPerConnection: target.simulated ? 2 : 1,
    connectionsPerTargetAddress: peak,
    shardsShareProcess: true,
  };
  const { selfCheck, running } = await selfCheckHost(demand, () => readHostBudget());
  return { selfCheck, runPlan: (request) => runPlanShards(request, running) };
}

function preflightRefusal(settings: ProbeSettings, selfCheck: SelfCheck): PreflightRefusal {
  const summary = `${describeSelfCheckProblems(selfCheck)} Nothing was sent, and no ceiling is claimed.`;
  return {
    targetId: settings.targetId,
    url: redactUrl(settings.url),
    verdict: 'inconclusive',
    verdictReason: summary,
    ceiling: { value: null, reached: false },
    dropOnset: null,
    limitingFactor: {
      kind: 'probe-limited',
      summary,
      evidence: { failures: countFailures([]), message: 'self-check before the run' },
    },
    selfCheck,
  };
}

/** Runs every shard with live progress; Ctrl-C stops the run and it is still recorded. */
async function runWithProgress(
  settings: ProbeSettings,
  plan: ProbePlan,
  io: CommandIo,
  runPlan: PlanRunner,
): Promise<ShardResult[]> {
  const control = new RampControl(settings.tolerance, settings.stages, settings.stopAtFirstFailingStage);
  const display = startProgressDisplay(plan, io.stderr);
  const interrupt = interruptOnSigint();
  interrupt.signal.addEventListener('abort', () =>
    control.abort({ failureClass: 'interrupted', message: 'stopped by SIGINT' }),
  );
  try {
    return await runPlan({ settings, plan, control, onEvent: (event: ShardEvent) => display.onEvent(event) });
  } finally {
    interrupt.dispose();
    display.stop();
  }
}

/**
 * Writes the run's --junit and --markdown files (paths checked before the
 * run) and says `Wrote <file>` for each on stderr. The run is already stored:
 * when a file cannot be written, this says so on stderr and rethrows the
 * InvalidInputError (exit 2) that names the flag and the file.
 */
async function writeCiFiles(
  run: RunResult,
  flags: Pick<RunCommandFlags, 'junit' | 'markdown'>,
  io: CommandIo,
): Promise<void> {
  let written: string[];
  try {
    written = await writeCiOutputs(run, flags);
  } catch (error) {
    io.stderr.write(`Run ${run.runId} is stored; no --junit or --markdown file was changed.\n`);
    throw error;
  }
  for (const file of written) io.stderr.write(`Wrote ${file}\n`);
}
