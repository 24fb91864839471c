/**
 * `ws-ceiling run`: the local probe (bin/cli/local-probe.ts) with its answer
 * printed: the ceiling, where drops began and the cause in plain words, or
 * the run as one JSON object with `--json`. The exit code follows the
 * verdict.
 */
import type { CommandIo } from './cli-context.js';
import { exitCodeForVerdict } from './exit-codes.js';
import { printRecordedRun, printRefusal, probeLocally } from './local-probe.js';
import type { RunCommandFlags } from './run-flags.js';

// Tests outside test/cli still import runPlanShards from here; it lives in local-shards.ts.
export { runPlanShards } from './local-shards.js';

/** Runs a probe and returns the process exit code. */
export function runCommand(urlArgument: string | undefined, flags: RunCommandFlags, io: CommandIo): Promise<number> {
  return probeLocally(urlArgument, flags, io, {
    refused: (refusal) => printRefusal(refusal, flags, io),
    recorded: ({ recorded }) => {
      if (flags.json) io.stdout.write(`${JSON.stringify(recorded.run, null, 2)}\n`);
      else printRecordedRun(recorded, flags, io);
      return exitCodeForVerdict(recorded.run.verdict);
    },
  });
}
