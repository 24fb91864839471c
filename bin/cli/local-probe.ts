/**
 * The local probe pipeline `run` and `diagnose` share. It composes the same
 * three steps as the deployed run: plan, every shard's runShard in this
 * process, then record into the embedded store. Before it sends anything, a
 * self-check compares the plan with this process's descriptors, local ports
 * and memory; a plan the probe cannot carry is `inconclusive`, never a
 * ceiling. While shards run, a resource watch keeps checking (once a second
 * and at each stage end), and a shortfall stops the run as `probe-limited`.
 * With `--processes` the shards run in probe processes instead, checked and
 * coordinated by local-processes.ts, and are recorded the same way.
 *
 * Bad input exits 2 before the store is opened; the store is opened and read
 * through before anything is sent (a store that cannot be read exits 3).
 * Ctrl-C, SIGTERM and SIGHUP stop the run and it is still recorded
 * (stop-signals.ts). A run the store fails to write is printed and saved as
 * a JSON file beside the store, and the command exits 3. The --junit and
 * --markdown files are written last, so a file that cannot be written never
 * hides the result.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PlanRequest, PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { countFailures } from '../../functions/engine/failures.js';
import { planRun } from '../../functions/engine/plan.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { buildRunResult, publicSettings, recordRun, type RecordInput } from '../../functions/engine/record.js';
import { displayTargetUrl } from '../../functions/engine/connection-template.js';
import type { PutRunOutcome } from '../../functions/engine/run-store.js';
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
import type { RunConnections } from '../../functions/connection/run-connections.js';
import { openLocalConnections } from './local-connections.js';
import { inProcessRamp, processesChoiceOf, spreadOverProcesses, withProcessesFix } from './local-processes.js';
import { openLocalStore, type LocalStore } from './local-store.js';
import { runPlanShards } from './local-shards.js';
import { prepareProbeTarget, type ProbeTarget } from './probe-target.js';
import { startProgressDisplay } from './progress.js';
import type { RunCommandFlags } from './run-flags.js';
import { storeFlag } from './shared-options.js';
import { stopSignals } from './stop-signals.js';
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

/**
 * A run as recorded locally: stored (written, or found already written), or
 * not stored because the store failed, and then saved as a JSON file beside
 * it (`savedTo`, undefined when that failed too).
 */
export type LocalRecord =
  | { run: RunResult; stored: PutRunOutcome }
  | { run: RunResult; stored: 'not-stored'; storeError: string; savedTo: string | undefined };

/** A probe that ran and was recorded: the stored run, and what the follow-up experiments build on. */
export interface RecordedProbe {
  settings: ProbeSettings;
  recorded: LocalRecord;
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
 * The whole local probe: validates the target (a URL or --simulate) and the
 * flags, opens and checks the store, plans, prints the plan, self-checks the
 * plan against this host, runs every shard in this process with live
 * progress and records the run. Hands the outcome to `handlers`, then writes
 * the --junit and --markdown files of a recorded run; returns the handler's
 * exit code (3 when the run could not be stored). Holds the kill switch
 * (SIGINT, SIGTERM, SIGHUP) throughout.
 */
export async function probeLocally(
  urlArgument: string | undefined,
  flags: RunCommandFlags,
  io: CommandIo,
  handlers: ProbeHandlers,
): Promise<number> {
  const release = stopSignals.hold({ stderr: io.stderr, exit: (code) => process.exit(code) });
  stopSignals.skipping(() => undefined);
  try {
    const prepared = await prepareProbeTarget(urlArgument, flags);
    processesChoiceOf(flags.processes); // a bad --processes exits 2 before the store is opened
    const local = await openLocalStore(flags.store);
    try {
      return await prepared.withTarget(io, async (target) => {
        const connections = await openLocalConnections(target.settings);
        try {
          return await probeAndReport(target, local, connections, flags, io, handlers);
        } finally {
          connections.close();
        }
      });
    } finally {
      await local.close();
    }
  } finally {
    release();
  }
}

/** One probe with its outcome handed to `handlers`, then the --junit and --markdown files; the exit code. */
async function probeAndReport(
  target: ProbeTarget,
  local: LocalStore,
  connections: RunConnections,
  flags: RunCommandFlags,
  io: CommandIo,
  handlers: ProbeHandlers,
): Promise<number> {
  const outcome = await probeOnce(target, local, connections, flags, io);
  if (outcome.kind === 'stopped') return EXIT_CODES.probeFailed;
  if (outcome.kind === 'refused') return handlers.refused(outcome.refusal);
  const { recorded } = outcome.probe;
  stopSignals.skipping(() => `the rest of the command; the run is already ${savedWhere(recorded)}`);
  const exitCode = await handlers.recorded(outcome.probe);
  await writeCiFiles(recorded.run, flags, io);
  if (recorded.stored !== 'not-stored') return exitCode;
  // In plain words stdout says so already; with --json it holds the run only.
  if (flags.json) io.stderr.write(`error: ${notStoredSentence(recorded, flags.store)}\n`);
  return EXIT_CODES.probeFailed;
}

/** Prints a recorded run in plain words (the answer, then where it is stored), as `run` and `diagnose` do. */
export function printRecordedRun(recorded: LocalRecord, flags: Pick<RunCommandFlags, 'store'>, io: CommandIo): void {
  const { run } = recorded;
  io.stdout.write(`\n${describeResult(run)}\n\n`);
  if (recorded.stored === 'not-stored') {
    io.stdout.write(`${notStoredSentence(recorded, flags.store)}\n`);
    return;
  }
  io.stdout.write(
    `${describeStored(recorded.stored, run.targetId, { store: flags.store, historyFlags: storeFlag(flags.store) })}\n`,
  );
}

/** Where a recorded run is: `stored in .ws-ceiling`, or `saved to <file>`. */
function savedWhere(recorded: LocalRecord): string {
  if (recorded.stored !== 'not-stored') return 'stored';
  return recorded.savedTo === undefined ? 'printed' : `saved to ${recorded.savedTo}`;
}

/** The sentence about a run the store failed to write: why, and where the run was saved instead. */
function notStoredSentence(recorded: Extract<LocalRecord, { stored: 'not-stored' }>, store: string): string {
  const saved =
    recorded.savedTo === undefined
      ? 'It could not be saved beside the store either: keep the output above.'
      : `The run is saved to ${recorded.savedTo} instead.`;
  return `The run could not be stored in ${store} (${recorded.storeError}). ${saved}`;
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

/**
 * The kill switch (Ctrl-C, SIGTERM, SIGHUP; see stop-signals.ts) for a
 * command's follow-up work: its signal aborts at the first stop signal, also
 * one that came earlier in the command. `dispose` lets go of it.
 */
export function interruptOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const release = stopSignals.hold({ stderr: process.stderr, exit: (code) => process.exit(code) });
  return { signal: stopSignals.signal, dispose: release };
}

/** What one probe of a target came to: stopped before anything was sent, refused by the self-check, or recorded. */
type ProbeOutcome =
  { kind: 'stopped' } | { kind: 'refused'; refusal: PreflightRefusal } | { kind: 'recorded'; probe: RecordedProbe };

/**
 * One probe of a resolved target: plans, prints the plan, self-checks, runs
 * the shards and records the run in `local`. A plan the host cannot carry
 * is refused before anything is sent.
 */
async function probeOnce(
  target: ProbeTarget,
  local: LocalStore,
  connections: RunConnections,
  flags: RunCommandFlags,
  io: CommandIo,
): Promise<ProbeOutcome> {
  const { settings } = target;
  const plan = planRun(settings, { now: Date.now, newRunId: randomUUID, startDelayMs: LOCAL_START_DELAY_MS });
  const planText = describePlan(
    plan,
    publicSettings(settings, plan),
    displayTargetUrl(settings.url),
    settings.stopAtFirstFailingStage,
  );
  (flags.json ? io.stderr : io.stdout).write(`${planText}\n\n`);
  const inProcess = await selfCheckPlan(target, connections);
  const spread = await spreadOverProcesses(target, plan, processesChoiceOf(flags.processes), inProcess.selfCheck);
  const selfCheck = spread?.selfCheck ?? (await withProcessesFix(inProcess.selfCheck, target, plan));
  if (!selfCheck.ok) return { kind: 'refused', refusal: preflightRefusal(settings, selfCheck) };
  const ramp = spread && !stopSignals.signal.aborted ? await spread.start(io) : inProcessRamp(plan, inProcess.runPlan);
  let shards: ShardResult[];
  try {
    if (stopSignals.signal.aborted) {
      io.stderr.write('Stopped before anything was sent; nothing is stored.\n');
      return { kind: 'stopped' };
    }
    shards = await runWithProgress(settings, ramp.plan, io, ramp.runPlan);
  } finally {
    await ramp.close();
  }
  stopSignals.skipping(() => `storing the run in ${local.directory}`);
  const input = { settings, plan: ramp.plan, shards, region: 'local', finishedAt: Date.now() };
  const recorded = await recordOrSave(input, local);
  // The follow-up experiments adapt their stages as they go, so they run in this process (local-processes.ts).
  const runExperiment: PlanRunner = (request) => runCounting(inProcess.runPlan, request);
  return {
    kind: 'recorded',
    probe: { settings, recorded, plan: ramp.plan, shards, selfCheck, runPlan: runExperiment },
  };
}

/**
 * Records the run in the local store. When the store fails (a disk that
 * filled, a store corrupted while the run went on), the run is judged
 * without its history and saved as JSON beside the store, so the result is
 * never lost: `ws-ceiling-run-<runId>.json` in the store's parent directory.
 */
async function recordOrSave(input: RecordInput, local: LocalStore): Promise<LocalRecord> {
  try {
    return await recordRun(input, { store: local.store });
  } catch (error) {
    const cause = local.failure() ?? error;
    const storeError = cause instanceof Error ? cause.message : String(cause);
    const run = buildRunResult(input);
    const file = path.join(path.dirname(local.directory), `ws-ceiling-run-${run.runId}.json`);
    const savedTo = await writeFile(file, `${JSON.stringify(run, null, 2)}\n`).then(
      () => file,
      () => undefined,
    );
    return { run, stored: 'not-stored', storeError, savedTo };
  }
}

/**
 * The pre-flight: every shard runs in this process, so it must carry the
 * plan's largest stage. Gives the check and the plan runner that keeps
 * checking the host while shards run (once a second and at each stage end).
 */
async function selfCheckPlan(
  target: ProbeTarget,
  connections: RunConnections,
): Promise<{ selfCheck: SelfCheck; runPlan: PlanRunner }> {
  const peak = Math.max(...target.settings.stages);
  const demand = {
    connectionsPerProcess: peak,
    costPerConnection: target.simulated ? 2 : 1,
    connectionsPerTargetAddress: peak,
    sourceAddresses: target.settings.sourceAddresses?.length ?? 1,
    shardsShareProcess: true,
  };
  const { selfCheck, running } = await selfCheckHost(demand, () => readHostBudget());
  return { selfCheck, runPlan: (request) => runPlanShards(request, running, connections) };
}

/**
 * Runs `request` with its shard events also counting the connections open
 * now, so a second stop signal meanwhile says how many it leaves without a
 * close frame: `closing the 20 open connections with 1000` and `then`.
 */
function runCounting(runPlan: PlanRunner, request: PlanRequest, then = ''): Promise<ShardResult[]> {
  let open = 0;
  const onEvent = (event: ShardEvent): void => {
    if (event.type === 'settled' && event.record.outcome === 'opened') open += 1;
    if (event.type === 'closed') open -= 1;
    request.onEvent?.(event);
  };
  return stopSignals.during(
    () => `closing the ${open} open connections with 1000${then}`,
    () => runPlan({ ...request, onEvent }),
  );
}

function preflightRefusal(settings: ProbeSettings, selfCheck: SelfCheck): PreflightRefusal {
  const summary = `${describeSelfCheckProblems(selfCheck)} Nothing was sent, and no ceiling is claimed.`;
  return {
    targetId: settings.targetId,
    url: displayTargetUrl(settings.url),
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

/**
 * Runs every shard with live progress; a stop signal stops the run and it
 * is still recorded. The progress line stops when the run does, so it shows
 * what was open then, not after the probe closed everything.
 */
async function runWithProgress(
  settings: ProbeSettings,
  plan: ProbePlan,
  io: CommandIo,
  runPlan: PlanRunner,
): Promise<ShardResult[]> {
  const control = new RampControl(settings.tolerance, settings.stages, settings.stopAtFirstFailingStage);
  const display = startProgressDisplay(plan, io.stderr);
  let displaying = true;
  const stopDisplay = (): void => {
    if (displaying) display.stop();
    displaying = false;
  };
  const stopRun = (): void => {
    const reason: unknown = stopSignals.signal.reason;
    control.abort({ failureClass: 'interrupted', message: reason instanceof Error ? reason.message : 'stopped' });
  };
  control.onAbort(stopDisplay);
  stopSignals.signal.addEventListener('abort', stopRun);
  const onEvent = (event: ShardEvent): void => {
    if (displaying) display.onEvent(event);
  };
  try {
    return await runCounting(runPlan, { settings, plan, control, onEvent }, ' and storing the run');
  } finally {
    stopSignals.signal.removeEventListener('abort', stopRun);
    stopDisplay();
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
