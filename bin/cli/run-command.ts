/**
 * `ws-ceiling run`: the local probe. Composes the same three steps as the
 * deployed run: plan, every shard's runShard in this process, then record
 * into the embedded store. Before it sends anything, a self-check compares
 * the plan with this process's descriptors, local ports and memory; a plan
 * the probe cannot carry is `inconclusive`, never a ceiling. While shards run,
 * a resource watch keeps checking (once a second and at each stage end), and
 * a shortfall stops the run as `probe-limited`. `probeOnce` is the one path
 * `run` and `diagnose` share.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { runShard, shardInputOf } from '../../functions/connection/shard-runner.js';
import { underResourceWatch } from '../../functions/connection/resource-watch.js';
import type { PlanRequest, PlanRunner } from '../../functions/diagnose/experiment-probe.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { countFailures } from '../../functions/engine/failures.js';
import { planRun } from '../../functions/engine/plan.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { publicSettings, recordRun, type RecordedRun } from '../../functions/engine/record.js';
import { redactUrl } from '../../functions/engine/redact.js';
import {
  describeSelfCheckProblems,
  selfCheckHost,
  type RunningHostCheck,
  type SelfCheck,
} from '../../functions/engine/self-check.js';
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
import { checkCiOutputPaths, writeCiOutputs } from '../../functions/report/ci-outputs.js';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import { EXIT_CODES, exitCodeForVerdict } from './exit-codes.js';
import { openLocalStore } from './local-store.js';
import { startProgressDisplay } from './progress.js';
import { parseRunFlags, RUN_DEFAULTS, type RawRunFlags } from './run-options.js';
import { describePlan, describeResult, describeStored } from './summary.js';

/** Delay before the first stage so every shard is ready. */
const LOCAL_START_DELAY_MS = 250;

/** Flags of `ws-ceiling run`. */
export interface RunCommandFlags extends RawRunFlags {
  simulate?: string;
  json?: boolean;
  store: string;
  /** Also write the run's JUnit XML report here, one test case per gate. */
  junit?: string;
  /** Also write the run's Markdown summary here. */
  markdown?: string;
}

/** Where the command writes: results to `stdout`, plan and progress to `stderr`. */
export interface CommandIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** What a command probes: validated settings, and whether the bundled simulator runs in this process. */
export interface ProbeTarget {
  settings: ProbeSettings;
  /** True with --simulate: each connection then costs this process two descriptors. */
  simulated: boolean;
}

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

/** The outcome of one probe: refused by the self-check, or run and recorded with its raw shard results. */
export type ProbeOutcome =
  | { kind: 'refused'; refusal: PreflightRefusal }
  | {
      kind: 'recorded';
      recorded: RecordedRun;
      plan: ProbePlan;
      shards: ShardResult[];
      selfCheck: SelfCheck;
      runPlan: PlanRunner;
    };

/** Runs a probe and returns the process exit code. */
export async function runCommand(
  urlArgument: string | undefined,
  flags: RunCommandFlags,
  io: CommandIo,
): Promise<number> {
  return withProbeTarget(urlArgument, flags, io, async (target) => {
    const outcome = await probeOnce(target, flags, io);
    if (outcome.kind === 'refused') return printRefusal(outcome.refusal, flags, io);
    const { run, stored } = outcome.recorded;
    if (flags.json) io.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
    else {
      io.stdout.write(`\n${describeResult(run)}\n\n`);
      io.stdout.write(
        `${describeStored(stored, run.targetId, { store: flags.store, historyFlags: storeFlag(flags) })}\n`,
      );
    }
    await writeCiFiles(run, flags, io);
    return exitCodeForVerdict(run.verdict);
  });
}

/**
 * Resolves what to probe, a URL or the bundled simulator (--simulate, started
 * here and stopped after `body`), validates the run flags and hands the
 * target to `body`.
 */
export async function withProbeTarget<T>(
  urlArgument: string | undefined,
  flags: RunCommandFlags,
  io: CommandIo,
  body: (target: ProbeTarget) => Promise<T>,
): Promise<T> {
  if (urlArgument !== undefined && flags.simulate !== undefined) {
    throw new InvalidInputError(
      '--simulate',
      'probes the bundled simulator, so give either a URL or --simulate, not both',
    );
  }
  if (urlArgument === undefined && flags.simulate === undefined) {
    throw new InvalidInputError(
      'url',
      'give a ws:// or wss:// URL, or --simulate <spec> to probe the bundled simulator (e.g. --simulate cap=150)',
    );
  }
  await checkCiOutputPaths(flags);
  const simulatorOptions = flags.simulate !== undefined ? parseSimulatorSpec(flags.simulate) : undefined;
  const simulator = simulatorOptions ? await startTargetSimulator(simulatorOptions) : undefined;
  try {
    const url = simulator ? simulator.url : (urlArgument as string);
    const settings = parseRunFlags(url, flags, simulator ? 'simulator' : undefined);
    if (simulator && simulatorOptions)
      io.stderr.write(`Started the target simulator at ${simulator.url}: ${describeSimulator(simulatorOptions)}\n`);
    return await body({ settings, simulated: simulator !== undefined });
  } finally {
    await simulator?.stop();
  }
}

/**
 * One probe, as `run` does it: opens the store, plans, prints the plan,
 * self-checks the plan against this host, runs every shard in this process
 * with live progress (Ctrl-C stops the run and still records it) and records
 * the run. A plan the host cannot carry is refused before anything is sent.
 * The caller prints the result and then writes the --junit and --markdown
 * files with {@link writeCiFiles}, so a file that cannot be written never
 * hides the result.
 */
export async function probeOnce(target: ProbeTarget, flags: RunCommandFlags, io: CommandIo): Promise<ProbeOutcome> {
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
    return { kind: 'recorded', recorded, plan, shards, selfCheck, runPlan };
  } finally {
    await local.close();
  }
}

/**
 * Writes the run's --junit and --markdown files (paths checked before the
 * run) and says `Wrote <file>` for each on stderr. The run is already stored:
 * when a file cannot be written, this says so on stderr and rethrows the
 * InvalidInputError (exit 2) that names the flag and the file.
 */
export async function writeCiFiles(
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
 * Runs every shard of `plan` in this process, under one resource watch when
 * `host` is given (a shortfall stops the run as probe-limited); the
 * experiments of `diagnose` use it too.
 */
export async function runPlanShards(request: PlanRequest, host?: RunningHostCheck): Promise<ShardResult[]> {
  const { settings, plan, control } = request;
  return underResourceWatch(host, control, async (watch) => {
    const results = await Promise.all(
      plan.shards.map((shard) =>
        runShard(
          {
            ...shardInputOf(settings, plan.stages, shard),
            heartbeat: request.heartbeatOf?.(shard.index) ?? settings.heartbeat,
            ...(request.nextStage ? { nextStage: request.nextStage } : {}),
          },
          { control, ...(request.onEvent ? { onEvent: request.onEvent } : {}), ...(watch ? { watch } : {}) },
        ),
      ),
    );
    return results.map((result) => ({ ...result, sharesProcess: true }));
  });
}

/** Ctrl-C as a kill switch: aborts the returned signal until `dispose` is called. */
export function interruptOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const interrupt = () => controller.abort(new Error('stopped by SIGINT'));
  process.once('SIGINT', interrupt);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', interrupt) };
}

/**
 * Registers the flags `run` and `diagnose` share on `command`, with their
 * defaults, so both commands accept exactly the same probe settings.
 */
export function addRunFlags(command: Command): Command {
  const collect = (value: string, previous: string[]) => [...previous, value];
  return command
    .option(
      '--simulate <spec>',
      'probe the bundled simulator instead of a URL, e.g. cap=150 or idle-timeout=4 (see README)',
    )
    .option('--stages <list>', 'stage targets in global open connections, e.g. 50,100,150')
    .option('--start <n>', `first stage target when no --stages (default ${RUN_DEFAULTS.start})`)
    .option('--step <n>', `added per stage when no --stages (default ${RUN_DEFAULTS.step})`)
    .option('--max <n>', `last stage target when no --stages (default ${RUN_DEFAULTS.max})`)
    .option('--hold <seconds>', 'how long each stage is held', RUN_DEFAULTS.hold)
    .option('--rate <per-second>', 'new connections per second', RUN_DEFAULTS.rate)
    .option('--max-in-flight <n>', 'handshakes in flight at once', RUN_DEFAULTS.maxInFlight)
    .option('--handshake-timeout <seconds>', 'time an opening handshake may take', RUN_DEFAULTS.handshakeTimeout)
    .option('--ping <seconds|off>', 'protocol ping interval, or off for no heartbeat', RUN_DEFAULTS.ping)
    .option(
      '--pong-timeout <seconds>',
      'a connection whose oldest unanswered ping waited longer than this is dropped (may exceed --ping)',
      RUN_DEFAULTS.pongTimeout,
    )
    .option(
      '--heartbeat-message <payload>',
      'send this application message every --ping seconds instead of a protocol ping',
    )
    .option('--header <name:value>', 'request header, repeatable (values are never printed or stored)', collect, [])
    .option('--subprotocol <name>', 'WebSocket subprotocol to request, repeatable', collect, [])
    .option('--target-id <id>', 'name of the target in the history (default: from the URL host, port and path)')
    .option('--tolerance <n|n%>', 'failures per stage that still count as held', RUN_DEFAULTS.tolerance)
    .option(
      '--max-connections <n>',
      'safety cap: refuse a plan above this many connections',
      RUN_DEFAULTS.maxConnections,
    )
    .option('--min-ceiling <n>', 'pre-launch gate: exit 1 when the ceiling is under n')
    .option(
      '--regression-tolerance <percent>',
      'allowed fall of the ceiling under its baseline before the verdict is regressed, e.g. 10 or 12.5%',
      RUN_DEFAULTS.regressionTolerance,
    )
    .option(
      '--baseline-runs <n>',
      'earlier completed runs with the same settings the baseline is the median of',
      RUN_DEFAULTS.baselineRuns,
    )
    .option(
      '--shard-size <n>',
      'connections per shard (each shard under the Lambda descriptor budget)',
      RUN_DEFAULTS.shardSize,
    )
    .option('--continue-after-failure', 'keep ramping after the first failing stage')
    .option('--json', 'print the result as one JSON object on stdout (plan and progress go to stderr)')
    .option('--junit <file>', 'also write a JUnit XML report with one test case per gate, for CI')
    .option('--markdown <file>', 'also write a short Markdown summary, for a pull request or change ticket')
    .option('--store <dir>', 'directory of the embedded run store', RUN_DEFAULTS.store);
}

/** `--store DIR` for the history hint, or nothing for the default store. */
export function storeFlag(flags: Pick<RunCommandFlags, 'store'>): string {
  return flags.store === RUN_DEFAULTS.store ? '' : ` --store ${flags.store}`;
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
