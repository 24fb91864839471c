/**
 * `ws-ceiling history`: lists stored runs, newest first, with the ceiling
 * trend (baseline, ratio, change, a bar per run), from the local store or,
 * with `--region`, from the deployed runs table of that region
 * (bin/cli/deployed-history.ts). Both print the same listing
 * (bin/cli/history-listing.ts). `--regions a,b` lists several regions' runs
 * together, each with its region (bin/cli/deployed-regions.ts).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CliContext, CommandIo } from './cli-context.js';
import { deploymentOption } from './deployed-common.js';
import { deployedHistoryCommand } from './deployed-history.js';
import { regionsHistoryCommand } from './deployed-regions.js';
import { printHistory, type HistoryListing } from './history-listing.js';
import { openLocalStore } from './local-store.js';
import { jsonOption, regionOption, storeOption, targetIdOption } from './shared-options.js';

/** Flags of `ws-ceiling history`. */
export interface HistoryFlags extends HistoryListing {
  store: string;
}

/** Declares `ws-ceiling history` on `program`. */
export function registerHistory(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command('history')
    .description('List stored runs, newest first.')
    .addOption(targetIdOption('only this target'))
    .addOption(new Option('--limit <n>', 'how many runs').default(20).argParser(parseLimit))
    .addOption(jsonOption('print the runs as a JSON array'))
    .addOption(storeOption())
    .addOption(regionOption('read the deployed runs table of this AWS region instead of the local store'))
    .option('--regions <regions>', 'read the deployed runs tables of these AWS regions (a,b), listed together')
    .addOption(deploymentOption())
    .action(async (flags: HistoryFlags & { region?: string; regions?: string; deployment?: string }) => {
      const { region, regions } = flags;
      setExitCode(
        regions !== undefined
          ? await regionsHistoryCommand({ ...flags, regions }, io)
          : region === undefined
            ? await historyCommand(flags, io)
            : await deployedHistoryCommand({ ...flags, region }, io),
      );
    });
}

/** Prints the stored runs of one target, or of every target, with their trend, and returns the exit code. */
export async function historyCommand(flags: HistoryFlags, io: CommandIo): Promise<number> {
  const local = await openLocalStore(flags.store, { existing: true });
  try {
    return await printHistory(local.store, flags, io);
  } finally {
    await local.close();
  }
}

/** `--limit`: how many runs, 1 to 1000; commander names the flag when this refuses. */
function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1 || limit > 1000) {
    throw new InvalidArgumentError('must be a whole number from 1 to 1000.');
  }
  return limit;
}
