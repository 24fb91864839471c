#!/usr/bin/env node
/**
 * The ws-ceiling command line: `run` probes a WebSocket endpoint (or the
 * bundled simulator) and records the run, `history` lists stored runs,
 * `target` starts the simulator. Flags are parsed by commander; bad input
 * exits 2 with the flag named, probe failures exit 3.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { WsCeilingError } from '../functions/engine/errors.js';
import { PROBE_VERSION } from '../functions/engine/version.js';
import { EXIT_CODES } from './cli/exit-codes.js';
import { historyCommand } from './cli/history-command.js';
import { runCommand, type CommandIo, type RunCommandFlags } from './cli/run-command.js';
import { RUN_DEFAULTS } from './cli/run-options.js';
import { targetCommand } from './cli/target-command.js';

// The AWS SDK warns on every start under Node 20; the CLI supports Node 20 on purpose (see README).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const collect = (value: string, previous: string[]) => [...previous, value];

function buildProgram(io: CommandIo, setExitCode: (code: number) => void): Command {
  const program = new Command('ws-ceiling')
    .description('Finds how many concurrent WebSocket connections an endpoint holds before they drop, and why.')
    .version(PROBE_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });

  program
    .command('run')
    .description('Ramp staged batches of connections against a ws:// or wss:// URL and find the ceiling, the drop onset and the cause.')
    .argument('[url]', 'WebSocket URL to probe (credentials and query values are never printed or stored)')
    .option('--simulate <spec>', 'probe the bundled simulator instead of a URL, e.g. cap=150 or idle-timeout=4 (see README)')
    .option('--stages <list>', 'stage targets in global open connections, e.g. 50,100,150')
    .option('--start <n>', `first stage target when no --stages (default ${RUN_DEFAULTS.start})`)
    .option('--step <n>', `added per stage when no --stages (default ${RUN_DEFAULTS.step})`)
    .option('--max <n>', `last stage target when no --stages (default ${RUN_DEFAULTS.max})`)
    .option('--hold <seconds>', 'how long each stage is held', RUN_DEFAULTS.hold)
    .option('--rate <per-second>', 'new connections per second', RUN_DEFAULTS.rate)
    .option('--max-in-flight <n>', 'handshakes in flight at once', RUN_DEFAULTS.maxInFlight)
    .option('--handshake-timeout <seconds>', 'time an opening handshake may take', RUN_DEFAULTS.handshakeTimeout)
    .option('--ping <seconds|off>', 'protocol ping interval, or off for no heartbeat', RUN_DEFAULTS.ping)
    .option('--pong-timeout <seconds>', 'a connection whose pong is later than this is dropped', RUN_DEFAULTS.pongTimeout)
    .option('--heartbeat-message <payload>', 'send this application message every --ping seconds instead of a protocol ping')
    .option('--header <name:value>', 'request header, repeatable (values are never printed or stored)', collect, [])
    .option('--subprotocol <name>', 'WebSocket subprotocol to request, repeatable', collect, [])
    .option('--target-id <id>', 'name of the target in the history (default: from the URL host, port and path)')
    .option('--tolerance <n|n%>', 'failures per stage that still count as held', RUN_DEFAULTS.tolerance)
    .option('--max-connections <n>', 'safety cap: refuse a plan above this many connections', RUN_DEFAULTS.maxConnections)
    .option('--min-ceiling <n>', 'pre-launch gate: exit 1 when the ceiling is under n')
    .option('--shard-size <n>', 'connections per shard (each shard under the Lambda descriptor budget)', RUN_DEFAULTS.shardSize)
    .option('--continue-after-failure', 'keep ramping after the first failing stage')
    .option('--json', 'print the run as one JSON object on stdout (plan and progress go to stderr)')
    .option('--store <dir>', 'directory of the embedded run store', RUN_DEFAULTS.store)
    .action(async (url: string | undefined, flags: RunCommandFlags) => setExitCode(await runCommand(url, flags, io)));

  program
    .command('history')
    .description('List stored runs, newest first.')
    .option('--target-id <id>', 'only this target')
    .addOption(new Option('--limit <n>', 'how many runs').default(20).argParser(parseLimit))
    .option('--json', 'print the runs as a JSON array')
    .option('--store <dir>', 'directory of the embedded run store', RUN_DEFAULTS.store)
    .action(async (flags) => setExitCode(await historyCommand(flags, io)));

  program
    .command('target')
    .description('Start the bundled target simulator on 127.0.0.1 until Ctrl-C.')
    .argument('[spec]', 'limits, e.g. cap=150,cap-response=503 or rate=20 or idle-timeout=45 (default: accept everything)', 'accept')
    .action(async (spec: string) => setExitCode(await targetCommand(spec, io)));

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
