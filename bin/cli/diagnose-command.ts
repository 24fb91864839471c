/**
 * `ws-ceiling diagnose`: the same probe as `run` (same flags, same
 * self-check and resource watch, recorded in the store the same way), then,
 * from the first failing level, the follow-up experiments that settle why it
 * failed: rate or count, queueing gateway, idle timeout, refinement. The
 * experiments run under the same resource watch. Prints the run, the
 * experiments' evidence and one plain sentence per finding; `--json` prints
 * the diagnosis as one object, of the same shape when the self-check refused
 * the plan.
 */
import type { Command } from 'commander';
import {
  DEFAULT_EXPERIMENT_BUDGET_SECONDS,
  DEFAULT_RESOLUTION,
  diagnoseRun,
  refusedDiagnosis,
  type DiagnoseOptions,
} from '../../functions/diagnose/diagnose.js';
import type { Diagnosis } from '../../functions/diagnose/findings.js';
import { describeDiagnosis } from '../../functions/diagnose/report.js';
import type { CliContext, CommandIo } from './cli-context.js';
import { EXIT_CODES, exitCodeForVerdict } from './exit-codes.js';
import { parseFlag, secondsFlag, wholeNumber } from './flag-numbers.js';
import {
  interruptOnSigint,
  printRecordedRun,
  printRefusal,
  probeLocally,
  type PreflightRefusal,
  type RecordedProbe,
} from './local-probe.js';
import { probeCommand, type RunCommandFlags } from './run-flags.js';

/** Defaults of the flags only `diagnose` has. */
const DIAGNOSE_DEFAULTS = {
  resolution: String(DEFAULT_RESOLUTION),
  experimentBudget: String(DEFAULT_EXPERIMENT_BUDGET_SECONDS),
} as const;

/** Flags of `ws-ceiling diagnose`: every run flag, and the experiments' own. */
interface DiagnoseCommandFlags extends RunCommandFlags {
  resolution: string;
  experimentBudget: string;
}

/** Declares `ws-ceiling diagnose` on `program`: every run flag, and the experiments' own. */
export function registerDiagnose(program: Command, { io, setExitCode }: CliContext): void {
  probeCommand(
    program,
    'diagnose',
    'Run the ramp, then the follow-up experiments that settle why it stopped: cap or rate limit, queueing ' +
      'gateway, idle timeout and the heartbeat that prevents it, the exact ceiling.',
  )
    .option(
      '--resolution <n>',
      'connections to which the refinement finds the exact ceiling',
      DIAGNOSE_DEFAULTS.resolution,
    )
    .option(
      '--experiment-budget <seconds>',
      'time each follow-up experiment may take, pauses included',
      DIAGNOSE_DEFAULTS.experimentBudget,
    )
    .action(async (url: string | undefined, flags: DiagnoseCommandFlags) =>
      setExitCode(await diagnoseCommand(url, flags, io)),
    );
}

/** Validates the experiments' flags; throws InvalidInputError naming the flag. */
function parseDiagnoseFlags(flags: Pick<DiagnoseCommandFlags, 'resolution' | 'experimentBudget'>): DiagnoseOptions {
  const resolution = parseFlag(wholeNumber(1, 10_000, 'connections'), '--resolution', flags.resolution);
  const budgetSeconds = parseFlag(secondsFlag(1, 86_400), '--experiment-budget', flags.experimentBudget);
  return { resolution, budgetSeconds };
}

/** Probes, records the ramp, runs the follow-up experiments and returns the exit code. */
function diagnoseCommand(urlArgument: string | undefined, flags: DiagnoseCommandFlags, io: CommandIo): Promise<number> {
  const options = parseDiagnoseFlags(flags);
  return probeLocally(urlArgument, flags, io, {
    refused: (refusal) => printRefusedDiagnosis(refusal, flags, io),
    recorded: async (probe) => {
      if (!flags.json) {
        printRecordedRun(probe.recorded, flags, io);
        io.stdout.write('\n');
      }
      const diagnosis = await runExperiments(probe, options, io);
      io.stdout.write(flags.json ? `${JSON.stringify(diagnosis, null, 2)}\n` : `${describeDiagnosis(diagnosis)}\n`);
      return exitCodeForDiagnosis(diagnosis);
    },
  });
}

/** A plan the self-check refused: printed as by `run`, or with --json as a diagnosis of the same shape. */
function printRefusedDiagnosis(refusal: PreflightRefusal, flags: DiagnoseCommandFlags, io: CommandIo): number {
  if (!flags.json) return printRefusal(refusal, flags, io);
  const { targetId, url, selfCheck } = refusal;
  io.stdout.write(`${JSON.stringify(refusedDiagnosis({ targetId, url, selfCheck }), null, 2)}\n`);
  return EXIT_CODES.probeFailed;
}

/** The follow-up experiments from the recorded ramp, progress on stderr; Ctrl-C stops them. */
async function runExperiments(probe: RecordedProbe, options: DiagnoseOptions, io: CommandIo): Promise<Diagnosis> {
  const { settings, plan, shards, selfCheck, recorded } = probe;
  const interrupt = interruptOnSigint();
  try {
    return await diagnoseRun(
      { settings, plan, shards, run: recorded.run, selfCheck },
      {
        runPlan: probe.runPlan,
        now: Date.now,
        signal: interrupt.signal,
        onProgress: (line) => io.stderr.write(`${line}\n`),
      },
      options,
    );
  } finally {
    interrupt.dispose();
  }
}

/**
 * The exit code of a diagnosis: 3 when the run failed; 1 when a gate failed (--min-ceiling or regression, judged as
 * `run` judges them, whichever stage failed: see gate.ts); else 0 explained or no limit found, 3 inconclusive.
 */
function exitCodeForDiagnosis(diagnosis: Diagnosis): number {
  if (diagnosis.verdict === 'failed') return EXIT_CODES.probeFailed;
  if (diagnosis.gate && diagnosis.gate.verdict !== 'passed') return exitCodeForVerdict(diagnosis.gate.verdict);
  return diagnosis.verdict === 'inconclusive' ? EXIT_CODES.probeFailed : EXIT_CODES.completed;
}
