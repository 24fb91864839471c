/**
 * What `run` and `diagnose` probe: the URL given, or the bundled simulator
 * started in this process with `--simulate` (and stopped after the probe),
 * with the run flags validated into settings. The --junit and --markdown
 * paths are checked here too, before anything is sent.
 */
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { ProbeSettings } from '../../functions/engine/types.js';
import { checkCiOutputPaths } from '../../functions/report/ci-outputs.js';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import type { CommandIo } from './cli-context.js';
import type { RunCommandFlags } from './run-flags.js';
import { parseRunFlags } from './run-options.js';

/** What a command probes: validated settings, and whether the bundled simulator runs in this process. */
export interface ProbeTarget {
  settings: ProbeSettings;
  /** True with --simulate: each connection then costs this process two descriptors. */
  simulated: boolean;
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
