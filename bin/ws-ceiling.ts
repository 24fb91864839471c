#!/usr/bin/env node
/**
 * The ws-ceiling command line. Local: `run` probes a WebSocket endpoint (or
 * the bundled simulator) and records the run, `diagnose` adds the follow-up
 * experiments, `history`, `report` and `compare` read stored runs, `target`
 * starts the simulator. Deployed: `config check`, `invoke`, `history
 * --region`, `stop`, `pause` and `resume`. Each command module in bin/cli
 * declares its own command, flags and action (its `register` function);
 * commander parses them. Bad input exits 2 with the flag named, probe
 * failures exit 3.
 */
import { Command, CommanderError } from 'commander';
import { WsCeilingError } from '../functions/engine/errors.js';
import { PROBE_VERSION } from '../functions/engine/version.js';
import type { CliContext, CommandIo } from './cli/cli-context.js';
import { registerCompare } from './cli/compare-command.js';
import { registerConfig } from './cli/config-command.js';
import { registerInvoke } from './cli/deployed-invoke.js';
import { registerKillSwitch } from './cli/deployed-kill-switch.js';
import { registerDiagnose } from './cli/diagnose-command.js';
import { EXIT_CODES } from './cli/exit-codes.js';
import { registerHistory } from './cli/history-command.js';
import { registerRehearse } from './cli/rehearse-command.js';
import { registerReport } from './cli/report-command.js';
import { registerRun } from './cli/run-command.js';
import { registerTarget } from './cli/target-command.js';

// The AWS SDK warns on every start under Node 20; the CLI supports Node 20 on purpose (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Every command's register function, in the order `--help` lists them. */
const COMMANDS: ReadonlyArray<(program: Command, context: CliContext) => void> = [
  registerRun,
  registerDiagnose,
  registerHistory,
  registerReport,
  registerCompare,
  registerTarget,
  registerConfig,
  registerInvoke,
  registerKillSwitch,
  (program, context) => registerRehearse(program, context, () => import('./rehearse-synth.js')),
];

function buildProgram(context: CliContext): Command {
  const { io } = context;
  // Commands copy the output and exit settings when they are created, so these come first.
  const program = new Command('ws-ceiling')
    .description('Finds how many concurrent WebSocket connections an endpoint holds before they drop, and why.')
    .version(PROBE_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  for (const register of COMMANDS) register(program, context);
  return program;
}

async function main(): Promise<void> {
  const io: CommandIo = { stdout: process.stdout, stderr: process.stderr };
  let exitCode: number = EXIT_CODES.completed;
  try {
    await buildProgram({ io, setExitCode: (code) => (exitCode = code) }).parseAsync(process.argv);
  } catch (error) {
    exitCode = exitCodeForError(error, io);
  }
  process.exitCode = exitCode;
}

function exitCodeForError(error: unknown, io: CommandIo): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message, which names the flag.
    const informational = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
    return informational.includes(error.code) ? EXIT_CODES.completed : EXIT_CODES.invalidInput;
  }
  if (error instanceof WsCeilingError) {
    io.stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  io.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT_CODES.probeFailed;
}

await main();
