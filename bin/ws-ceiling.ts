#!/usr/bin/env node
/**
 * The ws-ceiling command line. Local: `run` probes a WebSocket endpoint (or
 * the bundled simulator) and records the run, `diagnose` adds the follow-up
 * experiments, `history`, `report` and `compare` read stored runs, `target`
 * starts the simulator. Deployed: `config check`, `invoke`, `history
 * --region`, `stop`, `pause` and `resume`. Flags are parsed by commander; bad
 * input exits 2 with the flag named, probe failures exit 3.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { WsCeilingError } from '../functions/engine/errors.js';
import { PROBE_VERSION } from '../functions/engine/version.js';
import { EXIT_CODES } from './cli/exit-codes.js';
import { compareCommand, type CompareFlags } from './cli/compare-command.js';
import { configCheckCommand, type ConfigCheckFlags } from './cli/config-command.js';
import type { DeployedTargetFlags } from './cli/deployed-common.js';
import { deployedHistoryCommand } from './cli/deployed-history.js';
import { invokeCommand, type InvokeFlags } from './cli/deployed-invoke.js';
import { pauseCommand, resumeCommand, stopCommand, type StopFlags } from './cli/deployed-kill-switch.js';
import { addDiagnoseFlags, diagnoseCommand, type DiagnoseCommandFlags } from './cli/diagnose-command.js';
import { historyCommand } from './cli/history-command.js';
import { reportCommand, type ReportFlags } from './cli/report-command.js';
import type { CommandIo } from './cli/cli-context.js';
import { runCommand } from './cli/run-command.js';
import { addRunFlags, type RunCommandFlags } from './cli/run-flags.js';
import { RUN_DEFAULTS } from './cli/run-options.js';
import { targetCommand } from './cli/target-command.js';

// The AWS SDK warns on every start under Node 20; the CLI supports Node 20 on purpose (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function buildProgram(io: CommandIo, setExitCode: (code: number) => void): Command {
  const program = new Command('ws-ceiling')
    .description('Finds how many concurrent WebSocket connections an endpoint holds before they drop, and why.')
    .version(PROBE_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });

  addRunFlags(
    program
      .command('run')
      .description('Ramp staged batches of connections against a ws:// or wss:// URL and find the ceiling, the ' +
'drop onset and the cause.')
      .argument('[url]', 'WebSocket URL to probe (credentials and query values are never printed or stored)'),
  ).action(async (url: string | undefined, flags: RunCommandFlags) => setExitCode(await runCommand(url, flags, io)));

  addDiagnoseFlags(
    addRunFlags(
      program
        .command('diagnose')
        .description('Run the ramp, then the follow-up experiments that settle why it stopped: cap or rate ' +
'limit, queueing gateway, idle timeout and the heartbeat that prevents it, the exact ' +
'ceiling.')
        .argument('[url]', 'WebSocket URL to probe (credentials and query values are never printed or stored)'),
    ),
  ).action(async (url: string | undefined, flags: DiagnoseCommandFlags) => setExitCode(await diagnoseCommand(url, flags, io)));

  program
    .command('history')
    .description('List stored runs, newest first.')
    .option('--target-id <id>', 'only this target')
    .addOption(new Option('--limit <n>', 'how many runs').default(20).argParser(parseLimit))
    .option('--json', 'print the runs as a JSON array')
    .option('--store <dir>', 'directory of the embedded run store', RUN_DEFAULTS.store)
    .option('--region <region>', 'read the deployed runs table of this AWS region instead of the local store')
    .action(async (flags) =>
      setExitCode(flags.region === undefined ? await historyCommand(flags, io) : await deployedHistoryCommand(flags, io)),
    );

  program
    .command('report')
    .description('Write a stored run as one self-contained HTML page (cause, timeline chart, latency, failures, ' +
'evidence, history, settings) and print its path.')
    .argument('<run>', 'run id (or its first 4+ characters), latest or previous')
    .option('--target-id <id>', "only this target's runs (latest = the newest run of this target)")
    .option('--out <file>', 'file to write (default: ws-ceiling-report-<runId>.html in the current directory)')
    .option('--store <dir>', 'directory of the embedded run store', RUN_DEFAULTS.store)
    .action(async (run: string, flags: ReportFlags) => setExitCode(await reportCommand(run, flags, io)));

  program
    .command('compare')
    .description('Show what changed between two stored runs: ceiling, limiting factor, handshake latency, ' +
'failure mix and settings.')
    .argument('<runA>', 'the first run: a run id, its first 4 or more characters, latest or previous')
    .argument('<runB>', 'the second run, named the same way')
    .option('--target-id <id>', "look among this target's runs only (latest and previous are then this target's)")
    .option('--json', 'print the comparison as one JSON object')
    .option('--store <dir>', 'directory of the embedded run store', RUN_DEFAULTS.store)
    .action(async (runA: string, runB: string, flags: CompareFlags) => setExitCode(await compareCommand(runA, runB, flags, io)));

  program
    .command('target')
    .description('Start the bundled target simulator on 127.0.0.1 until Ctrl-C.')
    .argument('[spec]', 'limits, e.g. cap=150,cap-response=503 or rate=20 or idle-timeout=45 (default: accept ' +
'everything)', 'accept')
    .action(async (spec: string) => setExitCode(await targetCommand(spec, io)));

  program
    .command('config')
    .description("Work with the deployed probe's config file.")
    .command('check')
    .description('Validate a config file and show, per target, its regions, schedule, stages, worker Lambdas, ' +
'timeout and Lambda cost.')
    .argument('<file>', 'the JSON config file, e.g. config/example.config.json')
    .option('--region <region>', 'only the targets probed from this AWS region, and their cost there')
    .option('--json', 'print the check as one JSON object')
    .action((file: string, flags: ConfigCheckFlags) => setExitCode(configCheckCommand(file, flags, io)));

  program
    .command('invoke')
    .description("Start a run of a deployed target now, with its schedule's input, and wait for the verdict.")
    .requiredOption('--target-id <id>', 'target id from the config')
    .requiredOption('--region <region>', 'AWS region the target is deployed in')
    .option('--no-wait', 'print the execution ARN and return at once')
    .option('--json', 'print the verdict as one JSON object')
    .action(async (flags: InvokeFlags) => setExitCode(await invokeCommand(flags, io)));

  program
    .command('stop')
    .description('Kill switch: every worker of a run of the target in progress stops opening, closes with 1000 ' +
'and returns; the run is recorded as inconclusive.')
    .requiredOption('--target-id <id>', 'target id from the config')
    .requiredOption('--region <region>', 'AWS region the target is deployed in')
    .option('--force', 'also stop the running executions at once (the run is then not recorded)')
    .action(async (flags: StopFlags) => setExitCode(await stopCommand(flags, io)));

  const scheduleCommand = (name: string, description: string, command: (flags: DeployedTargetFlags, io: CommandIo) => Promise<number>) =>
    program
      .command(name)
      .description(description)
      .requiredOption('--target-id <id>', 'target id from the config')
      .requiredOption('--region <region>', 'AWS region the target is deployed in')
      .action(async (flags: DeployedTargetFlags) => setExitCode(await command(flags, io)));
  scheduleCommand('pause', 'Disable the schedule of a deployed target (a run in progress goes on; see stop).', pauseCommand);
  scheduleCommand('resume', 'Enable the schedule of a deployed target again.', resumeCommand);

  return program;
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1 || limit > 1000) {
    throw new InvalidArgumentError('must be a whole number from 1 to 1000.');
  }
  return limit;
}

async function main(): Promise<void> {
  const io: CommandIo = { stdout: process.stdout, stderr: process.stderr };
  let exitCode: number = EXIT_CODES.completed;
  try {
    await buildProgram(io, (code) => (exitCode = code)).parseAsync(process.argv);
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
