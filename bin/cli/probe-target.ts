/**
 * What `run` and `diagnose` probe: the URL given, or the bundled simulator
 * started in this process with `--simulate` (and stopped after the probe),
 * with the run flags validated into settings. Everything is checked before
 * anything starts, the --junit and --markdown paths and that each
 * --source-address is this machine's too, so bad input exits 2 before the
 * store is opened or the simulator started.
 */
import { InvalidInputError } from '../../functions/engine/errors.js';
import { parseSourceAddresses } from '../../functions/engine/source-addresses.js';
import { checkSourceAddresses } from '../../functions/probe-host/source-address-check.js';
import type { ProbeSettings } from '../../functions/engine/types.js';
import { checkCiOutputPaths } from '../../functions/report/ci-outputs.js';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import type { CommandIo } from './cli-context.js';
import type { RunCommandFlags } from './run-flags.js';
import { checkProcessesForConnections } from './local-connections.js';
import { parseRunFlags } from './run-options.js';

/** Where the simulator will listen, as far as validating the flags goes. */
const SIMULATOR_STAND_IN_URL = 'ws://127.0.0.1:1/';

/** What a command probes: validated settings, and whether the bundled simulator runs in this process. */
export interface ProbeTarget {
  settings: ProbeSettings;
  /** True with --simulate: each connection then costs this process two descriptors. */
  simulated: boolean;
}

/** A target whose flags are valid, not started yet: `withTarget` starts the simulator (if any) around `body`. */
export interface PreparedTarget {
  withTarget<T>(io: CommandIo, body: (target: ProbeTarget) => Promise<T>): Promise<T>;
}

/**
 * Validates what to probe, a URL or the bundled simulator (--simulate), and
 * the run flags, before anything starts: every InvalidInputError (exit 2)
 * comes from here. The simulator is started by `withTarget` and stopped
 * after its body.
 */
export async function prepareProbeTarget(
  urlArgument: string | undefined,
  flags: RunCommandFlags,
): Promise<PreparedTarget> {
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
  // The simulator's URL is known once it listens: check the flags against a stand-in of it first.
  const checked = parseRunFlags(
    urlArgument ?? SIMULATOR_STAND_IN_URL,
    flags,
    simulatorOptions ? 'simulator' : undefined,
  );
  checkProcessesForConnections(flags.processes, checked);
  if (flags.sourceAddress !== undefined) {
    await checkSourceAddresses(parseSourceAddresses(flags.sourceAddress, '--source-address'), '--source-address');
  }
  return {
    async withTarget(io, body) {
      const simulator = simulatorOptions ? await startTargetSimulator(simulatorOptions) : undefined;
      try {
        const url = simulator ? simulator.url : (urlArgument as string);
        const settings = parseRunFlags(url, flags, simulator ? 'simulator' : undefined);
        if (simulator && simulatorOptions) {
          const provider = simulator.urlProviderUrl ? `; its URL provider: POST ${simulator.urlProviderUrl}` : '';
          const described = describeSimulator(simulatorOptions);
          io.stderr.write(`Started the target simulator at ${simulator.url}: ${described}${provider}\n`);
        }
        return await body({ settings, simulated: simulator !== undefined });
      } finally {
        await simulator?.stop();
      }
    },
  };
}
