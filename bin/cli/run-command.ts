/**
 * `ws-ceiling run`: the local probe (bin/cli/local-probe.ts) with its answer
 * printed: the ceiling, where drops began and the cause in plain words, or
 * the run as one JSON object with `--json`. The exit code follows the
 * verdict.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { CliContext, CommandIo } from './cli-context.js';
import { exitCodeForVerdict } from './exit-codes.js';
import { printRecordedRun, printRefusal, probeLocally } from './local-probe.js';
import { probeCommand, type RunCommandFlags } from './run-flags.js';

/** Declares `ws-ceiling run` on `program`. */
export function registerRun(program: Command, { io, setExitCode }: CliContext): void {
  probeCommand(
    program,
    'run',
    'Ramp staged batches of connections against a ws:// or wss:// URL and find the ceiling, the drop onset and ' +
      'the cause.',
  ).action(async (url: string | undefined, flags: RunCommandFlags) => setExitCode(await runCommand(url, flags, io)));
}

/** Runs a probe and returns the process exit code. */
function runCommand(urlArgument: string | undefined, flags: RunCommandFlags, io: CommandIo): Promise<number> {
  if (flags.alternateHeader?.length) {
    throw new InvalidInputError(
      '--alternate-header',
      'is a second credential for ws-ceiling diagnose; a run sends --header only',
    );
  }
  return probeLocally(urlArgument, flags, io, {
    refused: (refusal) => printRefusal(refusal, flags, io),
    recorded: ({ recorded }) => {
      if (flags.json) io.stdout.write(`${JSON.stringify(recorded.run, null, 2)}\n`);
      else printRecordedRun(recorded, flags, io);
      return exitCodeForVerdict(recorded.run.verdict);
    },
  });
}
