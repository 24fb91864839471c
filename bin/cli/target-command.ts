/**
 * `ws-ceiling target`: starts the bundled target simulator on loopback and
 * keeps it running until Ctrl-C, printing its URL for other tools to probe.
 */
import type { Command } from 'commander';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import type { CliContext, CommandIo } from './cli-context.js';

/** Declares `ws-ceiling target` on `program`. */
export function registerTarget(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command('target')
    .description('Start the bundled target simulator on 127.0.0.1 until Ctrl-C.')
    .argument(
      '[spec]',
      'limits, e.g. cap=150,cap-response=503 or rate=20 or idle-timeout=45 (default: accept everything)',
      'accept',
    )
    .action(async (spec: string) => setExitCode(await targetCommand(spec, io)));
}

/** Runs the simulator described by `spec` until SIGINT or SIGTERM; returns the exit code. */
async function targetCommand(spec: string, io: CommandIo): Promise<number> {
  const options = parseSimulatorSpec(spec, 'spec');
  const simulator = await startTargetSimulator(options);
  // The WebSocket URL first, for other tools to read; the URL provider's after it, when there is one.
  io.stdout.write(`${simulator.url}\n${simulator.urlProviderUrl ? `POST ${simulator.urlProviderUrl}\n` : ''}`);
  io.stderr.write(`Target simulator (${describeSimulator(options)}) listening at ${simulator.url}; Ctrl-C stops it.\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const stats = simulator.stats();
  await simulator.stop();
  io.stderr.write(`Stopped. Accepted ${stats.accepted}, peak open ${stats.peakOpen}.\n`);
  return 0;
}
