/**
 * The command line `run` and `diagnose` share (`[url]` and the run flags),
 * declared once so both commands accept exactly the same probe settings,
 * gates and outputs; bin/cli/run-options.ts validates them into
 * ProbeSettings.
 */
import type { Command } from 'commander';
import { RUN_DEFAULTS, type RawRunFlags } from './run-options.js';
import { jsonOption, storeOption, targetIdOption } from './shared-options.js';

/** Flags of `ws-ceiling run` (and, with the experiments' own, of `diagnose`). */
export interface RunCommandFlags extends RawRunFlags {
  simulate?: string;
  json?: boolean;
  store: string;
  /** Also write the run's JUnit XML report here, one test case per gate. */
  junit?: string;
  /** Also write the run's Markdown summary here. */
  markdown?: string;
  /** Probe processes the shards run in: a number, or auto (bin/cli/local-processes.ts). */
  processes?: string;
}

/**
 * Declares a command that probes: `name [url]` with every run flag, so `run`
 * and `diagnose` accept exactly the same probe settings, with the same
 * defaults. The caller adds the action (and any flags of its own).
 */
export function probeCommand(program: Command, name: string, description: string): Command {
  const command = program
    .command(name)
    .description(description)
    .argument('[url]', 'WebSocket URL to probe (credentials and query values are never printed or stored)');
  return addOutputFlags(addLimitFlags(addSessionFlags(addRampFlags(command))));
}

/** What to probe and how: the target, the stages, the pace, the heartbeat and the handshake. */
function addRampFlags(command: Command): Command {
  const collect = (value: string, previous: string[]) => [...previous, value];
  return command
    .option(
      '--simulate <spec>',
      'probe the bundled simulator instead of a URL, e.g. cap=150 or idle-timeout=4 (see README)',
    )
    .option('--stages <list>', 'stage targets in global open connections, e.g. 50,100,150')
    .option('--start <n>', `first stage target when no --stages (default ${RUN_DEFAULTS.start})`)
    .option('--step <n>', `added per stage when no --stages (default ${RUN_DEFAULTS.step})`)
    .option('--max <n>', `last stage target when no --stages (default ${RUN_DEFAULTS.max})`)
    .option('--hold <seconds>', 'how long each stage is held', RUN_DEFAULTS.hold)
    .option('--rate <per-second>', 'new connections per second', RUN_DEFAULTS.rate)
    .option('--max-in-flight <n>', 'handshakes in flight at once', RUN_DEFAULTS.maxInFlight)
    .option('--handshake-timeout <seconds>', 'time an opening handshake may take', RUN_DEFAULTS.handshakeTimeout)
    .option('--ping <seconds|off>', 'protocol ping interval, or off for no heartbeat', RUN_DEFAULTS.ping)
    .option(
      '--pong-timeout <seconds>',
      'a connection whose oldest unanswered ping waited longer than this is dropped (may exceed --ping)',
      RUN_DEFAULTS.pongTimeout,
    )
    .option(
      '--heartbeat-message <payload>',
      'send this application message every --ping seconds instead of a protocol ping',
    )
    .option('--header <name:value>', 'request header, repeatable (values are never printed or stored)', collect, [])
    .option('--subprotocol <name>', 'WebSocket subprotocol to request, repeatable', collect, [])
    .option(
      '--source-address <list>',
      'local addresses the connections leave from, in turn, e.g. 10.0.0.5,10.0.0.6 (each has its own ports)',
    )
    .addOption(targetIdOption('name of the target in the history (default: from the URL host, port and path)'));
}

/**
 * What an endpoint needs besides a URL: a session on each connection, a URL
 * or token per connection from a URL provider, SigV4 signing, and a second
 * credential for diagnose (bin/cli/session-options.ts checks them).
 */
function addSessionFlags(command: Command): Command {
  const collect = (value: string, previous: string[]) => [...previous, value];
  return command
    .option(
      '--init-message <text|@file>',
      'message sent right after the upgrade, repeatable, in order (never printed or stored)',
      collect,
      [],
    )
    .option('--ready-when <text|/regex/>', 'a connection counts as open only once a message like this arrives')
    .option('--ready-timeout <seconds>', 'how long to wait for the --ready-when message (default 10)')
    .option(
      '--session-url-from <"METHOD URL">',
      'call this before each upgrade for the URL or token, e.g. "POST https://…"',
    )
    .option('--session-url-path <json-path>', "where the URL or token is in the provider's answer, e.g. data.url")
    .option('--session-url-header <name:value>', "the provider call's header, repeatable (never printed)", collect, [])
    .option('--session-url-body <text|@file>', "the provider call's body (never printed or stored)")
    .option('--session-url-rate <per-second>', 'most provider calls per second (default: as fast as the ramp)')
    .option('--session-url-timeout <seconds>', 'how long one provider call may take (default 10)')
    .option('--sigv4', 'sign each upgrade URL with SigV4 (AWS API Gateway), credentials from the default chain')
    .option('--sigv4-region <region>', 'region to sign for (default: from an execute-api host name)')
    .option('--sigv4-service <name>', 'service to sign for (default execute-api)')
    .option(
      '--alternate-header <name:value>',
      'a second credential, repeatable, for diagnose only (never printed or stored)',
      collect,
      [],
    );
}

/**
 * How far the ramp may go and what counts: failures that still count as held,
 * the safety cap, the CI gates (floor, regression against the baseline), the
 * shard size and whether to stop at the first failing stage.
 */
function addLimitFlags(command: Command): Command {
  return command
    .option('--tolerance <n|n%>', 'failures per stage that still count as held', RUN_DEFAULTS.tolerance)
    .option(
      '--max-connections <n>',
      'safety cap: refuse a plan above this many connections',
      RUN_DEFAULTS.maxConnections,
    )
    .option('--min-ceiling <n>', 'pre-launch gate: exit 1 when the ceiling is under n')
    .option(
      '--regression-tolerance <percent>',
      'allowed fall of the ceiling under its baseline before the verdict is regressed, e.g. 10 or 12.5%',
      RUN_DEFAULTS.regressionTolerance,
    )
    .option(
      '--baseline-runs <n>',
      'earlier completed runs with the same settings the baseline is the median of',
      RUN_DEFAULTS.baselineRuns,
    )
    .option(
      '--shard-size <n>',
      'connections per shard (each shard under the Lambda descriptor budget)',
      RUN_DEFAULTS.shardSize,
    )
    .option('--continue-after-failure', 'keep ramping after the first failing stage')
    .option(
      '--processes <n|auto>',
      'probe processes the shards run in, each with its own descriptors and core; auto uses the cores when one ' +
        'process cannot carry the plan (default 1)',
    );
}

/** Where the result goes: stdout as text or JSON, the CI files, and the run store. */
function addOutputFlags(command: Command): Command {
  return command
    .addOption(jsonOption('print the result as one JSON object on stdout (plan and progress go to stderr)'))
    .option('--junit <file>', 'also write a JUnit XML report with one test case per gate, for CI')
    .option('--markdown <file>', 'also write a short Markdown summary, for a pull request or change ticket')
    .addOption(storeOption());
}
