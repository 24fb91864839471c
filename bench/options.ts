/**
 * The flags of `npm run bench`, validated into one BenchOptions object, and
 * the most connections the probe may hold on this host in one process or
 * several: what the probe's own self-check admits for descriptors (the
 * open-file limit less what is open and its headroom, per process; node
 * raises the soft limit to the hard limit at startup, so every benchmark
 * process has the same) and for the ephemeral ports toward one address
 * (shared by every process, per source address: `--source-address A,B`
 * multiplies them).
 */
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../functions/engine/errors.js';
import { checkProbeBudget, type HostBudget } from '../functions/engine/self-check.js';
import { parseSourceAddresses, type SourceAddress } from '../functions/engine/source-addresses.js';

/** Usage text printed by `--help`. */
export const BENCH_USAGE = `Usage: npm run bench -- [flags]

Compares the probe's connection layer (runShard) with a plain ws client on a
loopback server, each in its own process, and prints medians and ratios.

  --repeat N              repetitions of each client, alternating (default 5)
  --connections N         connections each client opens and holds (default: the
                          descriptor limit less the self-check's headroom)
  --rate N                new connections per second (default 100000: in effect
                          unpaced, only --max-in-flight bounds the ramp)
  --max-in-flight N       opening handshakes in flight at once (default 100)
  --hold S                seconds all connections are held after the ramp (default 10)
  --ping S                protocol ping interval; a pong later than one interval
                          ends the connection (default 5)
  --handshake-timeout S   time an opening handshake may take (default 10)
  --processes N           compare the probe in N processes (its connections and
                          rate split over them) with the probe in one, both
                          against a server of N processes (default 1: the probe
                          against plain ws)
  --source-address A,B    local addresses the clients' connections leave from in
                          turn (each has its own ephemeral ports toward the
                          server), e.g. 127.0.0.1,127.0.0.2 (default: the
                          system's choice)
  --quick                 smoke run: 300 connections, 1 repetition, hold 1 s, ping 0.5 s
  --help                  this text`;

/** What the ramp of one client may take at the slowest before the benchmark gives up on it. */
const MIN_RAMP_TIMEOUT_SECONDS = 30;
const SLOWEST_HANDSHAKES_PER_SECOND = 100;

/** Most probe processes the benchmark spreads a client over. */
const MAX_PROCESSES = 16;

/** The most connections the probe may hold here in some number of processes, by the probe's own self-check. */
export interface ConnectionBudget {
  /** Connections the self-check admits for the processes and one target address: the hold target. */
  limitTarget: number;
  /** What bounds it. */
  bound: 'descriptors' | 'ephemeral ports';
  /** The limit it is taken from: the open-file limit (of each process), or the ports in the ephemeral range. */
  limit: number;
  /** Processes it is for. */
  processes: number;
  /** Source addresses the connections leave from in turn, each with its own ports toward the target (1 by default). */
  sourceAddresses: number;
}

/**
 * Asks the self-check how many connections `processes` processes, each holding its shards, may open toward one address
 * on this host: each process's descriptors, and the ports of each of the `sourceAddresses` they share.
 */
export function connectionBudget(host: HostBudget, processes = 1, sourceAddresses = 1): ConnectionBudget {
  const descriptorLimit = host.descriptorLimit;
  if (descriptorLimit === null || host.openDescriptors === null) {
    throw new Error(
      'cannot read the open-file limit or the open descriptors of this process (/proc/self); the benchmark sizes ' +
        'its run from them',
    );
  }
  // A demand no host meets, so that each problem gives what is available.
  const demand = {
    connectionsPerProcess: descriptorLimit,
    costPerConnection: 1,
    connectionsPerTargetAddress: Number.MAX_SAFE_INTEGER,
    shardsShareProcess: true,
  };
  const { problems } = checkProbeBudget(demand, host);
  const perProcess = problems.find((problem) => problem.resource === 'descriptors')?.available ?? descriptorLimit;
  const byDescriptors = perProcess * processes;
  const perAddress = problems.find((problem) => problem.resource === 'ephemeral-ports')?.available;
  const byPorts = perAddress === undefined ? undefined : perAddress * sourceAddresses;
  if (byPorts !== undefined && host.ephemeralPorts && byPorts < byDescriptors) {
    return {
      limitTarget: byPorts,
      bound: 'ephemeral ports',
      limit: host.ephemeralPorts.high - host.ephemeralPorts.low + 1,
      processes,
      sourceAddresses,
    };
  }
  return { limitTarget: byDescriptors, bound: 'descriptors', limit: descriptorLimit, processes, sourceAddresses };
}

/** Everything one benchmark invocation needs, validated. */
export interface BenchOptions {
  repeat: number;
  /** Connections each client opens and holds. */
  connections: number;
  /** The most connections one process may hold here, and what bounds it. */
  budget: ConnectionBudget;
  /** Probe processes compared with one (1: the probe against plain ws). */
  processes: number;
  /** `--source-address`: local addresses every client's connections leave from in turn; empty for the system's. */
  sourceAddresses: SourceAddress[];
  /** The most connections those processes may hold here (the budget itself for one process). */
  processesBudget: ConnectionBudget;
  connectRate: number;
  maxInFlight: number;
  holdSeconds: number;
  pingSeconds: number;
  handshakeTimeoutSeconds: number;
  /** Bound on one client's ramp; past it the client is closed and the run counts as not held. */
  rampTimeoutSeconds: number;
}

/** What `--help` asks for instead of a run. */
export type BenchRequest = { kind: 'help' } | { kind: 'run'; options: BenchOptions };

/**
 * Validates the benchmark flags against the connection budget of one process and of `--processes` processes
 * (`budgetOf`), or throws InvalidInputError naming the flag.
 */
export function parseBenchArgs(
  argv: readonly string[],
  budgetOf: (processes: number, sourceAddresses: number) => ConnectionBudget,
): BenchRequest {
  const { values } = parseFlags(argv);
  if (values.help) return { kind: 'help' };
  const quick = values.quick ?? false;
  const processes = wholeNumber('--processes', values.processes, 1, MAX_PROCESSES) ?? 1;
  const sourceAddresses =
    values['source-address'] === undefined ? [] : parseSourceAddresses(values['source-address'], '--source-address');
  const addresses = Math.max(1, sourceAddresses.length);
  const budget = budgetOf(1, addresses);
  const processesBudget = processes === 1 ? budget : budgetOf(processes, addresses);
  const { limitTarget } = processesBudget;
  const limit =
    processesBudget.bound === 'ephemeral ports'
      ? `the ${processesBudget.limit} ephemeral ports${addresses === 1 ? '' : ` of each of ${addresses} addresses`}`
      : processes === 1
        ? `the open-file limit of ${processesBudget.limit}`
        : `the open-file limit of ${processesBudget.limit} in each of ${processes} processes`;
  if (limitTarget < 1)
    throw new InvalidInputError(
      '--connections',
      `${limit} leaves no room for connections after the self-check's headroom`,
    );
  // Several processes are compared with one at what one process holds, unless asked for more.
  const connections =
    wholeNumber(
      '--connections',
      values.connections,
      1,
      limitTarget,
      `what ${limit} allows after the self-check's headroom`,
    ) ?? (quick ? Math.min(300, limitTarget) : Math.min(budget.limitTarget, limitTarget));
  const handshakeTimeoutSeconds = decimal('--handshake-timeout', values['handshake-timeout'], 0.1, 300) ?? 10;
  return {
    kind: 'run',
    options: {
      repeat: wholeNumber('--repeat', values.repeat, 1, 50) ?? (quick ? 1 : 5),
      connections,
      budget,
      processes,
      sourceAddresses,
      processesBudget,
      connectRate: decimal('--rate', values.rate, 1, 1_000_000) ?? 100_000,
      maxInFlight: wholeNumber('--max-in-flight', values['max-in-flight'], 1, 10_000) ?? 100,
      holdSeconds: decimal('--hold', values.hold, 0.5, 600) ?? (quick ? 1 : 10),
      pingSeconds: decimal('--ping', values.ping, 0.1, 60) ?? (quick ? 0.5 : 5),
      handshakeTimeoutSeconds,
      rampTimeoutSeconds:
        Math.max(MIN_RAMP_TIMEOUT_SECONDS, connections / SLOWEST_HANDSHAKES_PER_SECOND) + handshakeTimeoutSeconds,
    },
  };
}

function parseFlags(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        repeat: { type: 'string' },
        connections: { type: 'string' },
        rate: { type: 'string' },
        'max-in-flight': { type: 'string' },
        hold: { type: 'string' },
        ping: { type: 'string' },
        'handshake-timeout': { type: 'string' },
        processes: { type: 'string' },
        'source-address': { type: 'string' },
        quick: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new InvalidInputError('flags', `${(error as Error).message.split('\n')[0]}; see --help`);
  }
}

function wholeNumber(
  flag: string,
  text: string | undefined,
  min: number,
  max: number,
  why?: string,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new InvalidInputError(
      flag,
      `must be a whole number from ${min} to ${max}${why ? ` (${why})` : ''}, got "${text}"`,
    );
  }
  return value;
}

function decimal(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidInputError(flag, `must be a number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}
