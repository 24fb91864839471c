/**
 * `ws-ceiling compare <runA> <runB>`: what changed between two stored runs
 * (ceiling, limiting factor, handshake latency, failure mix, settings). A run
 * is named by its id, a unique start of its id, or `latest` / `previous`
 * (the newest and second-newest run, of `--target-id` when given). With
 * `--regions a,b` (and `--target-id`), the latest deployed run of the target
 * in each region side by side instead (bin/cli/deployed-regions.ts).
 */
import type { Command } from 'commander';
import { compareRuns } from '../../functions/report/run-comparison.js';
import { openLocalStore } from './local-store.js';
import type { CliContext, CommandIo } from './cli-context.js';
import { deploymentOption } from './deployed-common.js';
import { regionsCompareCommand } from './deployed-regions.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { findRun, storedRuns } from './run-lookup.js';
import { jsonOption, storeOption, targetIdOption } from './shared-options.js';
import { describeComparison } from './summary.js';

/** Flags of `ws-ceiling compare`. */
export interface CompareFlags {
  targetId?: string;
  json?: boolean;
  store: string;
}

/** Declares `ws-ceiling compare` on `program`. */
export function registerCompare(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command('compare')
    .description(
      'Show what changed between two stored runs: ceiling, limiting factor, handshake latency, failure mix and ' +
        'settings.',
    )
    .argument('[runA]', 'the first run: a run id, its first 4 or more characters, latest or previous')
    .argument('[runB]', 'the second run, named the same way')
    .addOption(targetIdOption("look among this target's runs only (latest and previous are then this target's)"))
    .addOption(jsonOption('print the comparison as one JSON object'))
    .addOption(storeOption())
    .option('--regions <regions>', "compare --target-id's latest deployed run in each of these AWS regions (a,b)")
    .addOption(deploymentOption())
    .action(
      async (
        runA: string | undefined,
        runB: string | undefined,
        flags: CompareFlags & { regions?: string; deployment?: string },
      ) => {
        const { regions } = flags;
        if (regions !== undefined) {
          setExitCode(await regionsCompareCommand({ ...flags, regions }, io));
          return;
        }
        if (runA === undefined || runB === undefined) {
          throw new InvalidInputError(
            '<runA> <runB>',
            'two runs are needed (or --target-id with --regions a,b to compare regions)',
          );
        }
        setExitCode(await compareCommand(runA, runB, flags, io));
      },
    );
}

/** Prints what changed from run `first` to run `second` and returns the exit code. */
export async function compareCommand(
  first: string,
  second: string,
  flags: CompareFlags,
  io: CommandIo,
): Promise<number> {
  const local = await openLocalStore(flags.store, { existing: true });
  try {
    const runs = await storedRuns(local.store, flags.targetId);
    const before = findRun(runs, first, '<runA>', flags);
    const after = findRun(runs, second, '<runB>', flags);
    const comparison = compareRuns(before, after);
    io.stdout.write(flags.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${describeComparison(comparison)}\n`);
    return 0;
  } finally {
    await local.close();
  }
}
