/**
 * `npm run bench`: the probe's connection layer against a plain ws client
 * doing the same work, on a loopback ws server. Every client run gets a
 * fresh server process and a process of its own; probe and plain alternate
 * for the asked repetitions. With `--processes N` it compares the probe
 * spread over N processes (the connections, rate and handshakes in flight
 * split over them, all starting at one planned time, as `--processes` runs
 * shards) with the probe in one, both against a server of N processes.
 * Prints medians, ratios and the targets on stdout, one line per run
 * on stderr. Exit 0 when every run completed (met or not), 2 on bad flags, 3
 * when a run could not finish.
 */
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '../functions/engine/errors.js';
import { readHostBudget } from '../functions/probe-host/host-budget.js';
import { checkSourceAddresses } from '../functions/probe-host/source-address-check.js';
import { ChildProcesses } from './children.js';
import { combineMeasurements, type ClientMeasurement, type Workload } from './measure.js';
import { BENCH_USAGE, connectionBudget, parseBenchArgs, type BenchOptions } from './options.js';
import { probePlan } from './probe-client.js';
import { formatSummary, summarize } from './report.js';
import { formatScaling, summarizeScaling } from './scaling-report.js';

/** Time a child may take to start and to close everything, on top of its ramp and hold bounds. */
const CHILD_OVERHEAD_MS = 30_000;
const SERVER_START_TIMEOUT_MS = 15_000;
/** How far ahead clients in several processes are told to start, so every one has loaded by then. */
const PROCESSES_START_AHEAD_MS = 2000;

type ClientKind = 'probe' | 'plain';
/** The probe in one process, or spread over `--processes`. */
type Spread = 'one' | 'many';

const SERVER_SCRIPT = fileURLToPath(new URL('./loopback-server.js', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./client-worker.js', import.meta.url));

/** Runs the benchmark as asked by `argv` and returns the exit code. */
async function runBench(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  const host = await readHostBudget();
  const request = parseBenchArgs(argv, (processes, addresses) => connectionBudget(host, processes, addresses));
  if (request.kind === 'help') {
    io.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  const { options } = request;
  await checkSourceAddresses(options.sourceAddresses, '--source-address');
  const children = new ChildProcesses();
  const interrupt = () => {
    children.killAll();
    io.stderr.write('\nInterrupted: every benchmark process was stopped.\n');
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  process.once('exit', () => children.killAll());
  try {
    if (options.processes > 1) await compareProcesses(options, children, io);
    else await compareWithPlain(options, children, io);
    return 0;
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    children.killAll();
  }
}

/** The probe against plain ws, each in one process, alternating. */
async function compareWithPlain(
  options: BenchOptions,
  children: ChildProcesses,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<void> {
  const workload = baseWorkload(options);
  const shards = probePlan(workload).shards;
  const inFlight = shards.reduce((sum, shard) => sum + shard.maxInFlight, 0);
  io.stdout.write(`${describeSetup(options, shards.length, inFlight)}\n\n`);
  const runs: Record<ClientKind, ClientMeasurement[]> = { probe: [], plain: [] };
  for (let repetition = 1; repetition <= options.repeat; repetition += 1) {
    const order: ClientKind[] = repetition % 2 === 1 ? ['probe', 'plain'] : ['plain', 'probe'];
    for (const kind of order) {
      // The plain client gets the in-flight bound the probe's shards add up to.
      const measurement = await measureInChildren(
        children,
        kind,
        [kind === 'plain' ? { ...workload, maxInFlight: inFlight } : workload],
        1,
      );
      runs[kind].push(measurement);
      io.stderr.write(`${describeRun(repetition, options.repeat, kind.padEnd(5), measurement)}\n`);
    }
  }
  io.stdout.write(`${formatSummary(summarize(runs.probe, runs.plain, options), options)}\n`);
}

/**
 * The probe spread over `--processes` processes against the probe in one,
 * alternating, both against a server of as many processes; the one-process
 * runs are left out when one process cannot hold the connections.
 */
async function compareProcesses(
  options: BenchOptions,
  children: ChildProcesses,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<void> {
  const workload = baseWorkload(options);
  const parts = splitWorkload(workload, options.processes);
  const oneFits = options.connections <= options.budget.limitTarget;
  io.stdout.write(`${describeScalingSetup(options, parts, oneFits)}\n\n`);
  const runs: Record<Spread, ClientMeasurement[]> = { one: [], many: [] };
  for (let repetition = 1; repetition <= options.repeat; repetition += 1) {
    const order: Spread[] = repetition % 2 === 1 ? ['one', 'many'] : ['many', 'one'];
    for (const spread of order.filter((candidate) => candidate === 'many' || oneFits)) {
      const measurement = await measureInChildren(
        children,
        'probe',
        spread === 'one' ? [workload] : parts,
        options.processes,
      );
      runs[spread].push(measurement);
      const label = spread === 'one' ? '1 process' : `${options.processes} processes`;
      io.stderr.write(`${describeRun(repetition, options.repeat, label, measurement)}\n`);
    }
  }
  io.stdout.write(`${formatScaling(summarizeScaling(runs.one, runs.many, options), options)}\n`);
}

/** The workload split over `processes`: their shares of the connections, the rate and the handshakes in flight. */
function splitWorkload(workload: Workload, processes: number): Workload[] {
  const share = (index: number) =>
    Math.floor((workload.connections * (index + 1)) / processes) -
    Math.floor((workload.connections * index) / processes);
  return Array.from({ length: processes }, (_, index) => ({
    ...workload,
    connections: share(index),
    connectRate: workload.connectRate / processes,
    maxInFlight: Math.max(1, Math.ceil(workload.maxInFlight / processes)),
  }));
}

function baseWorkload(options: BenchOptions): Workload {
  return {
    url: 'ws://127.0.0.1:0/',
    connections: options.connections,
    connectRate: options.connectRate,
    maxInFlight: options.maxInFlight,
    handshakeTimeoutSeconds: options.handshakeTimeoutSeconds,
    pingSeconds: options.pingSeconds,
    holdSeconds: options.holdSeconds,
    rampTimeoutSeconds: options.rampTimeoutSeconds,
    ...(options.sourceAddresses.length ? { sourceAddresses: options.sourceAddresses.map((s) => s.address) } : {}),
  };
}

/**
 * One client run: a fresh loopback server of `serverProcesses` processes, the
 * client in a process of its own for each of `workloads` (several start at one
 * planned time), all stopped before returning; the parts' figures combined.
 */
async function measureInChildren(
  children: ChildProcesses,
  kind: ClientKind,
  workloads: readonly Workload[],
  serverProcesses: number,
): Promise<ClientMeasurement> {
  const server = children.start(SERVER_SCRIPT, [String(serverProcesses)]);
  try {
    const { port } = (await server.firstJsonLine(SERVER_START_TIMEOUT_MS)) as { port: number };
    const startAt = workloads.length > 1 ? Date.now() + PROCESSES_START_AHEAD_MS : undefined;
    const clients = workloads.map((workload) =>
      children.start(CLIENT_SCRIPT, [
        kind,
        JSON.stringify({ ...workload, url: `ws://127.0.0.1:${port}/`, ...(startAt ? { startAt } : {}) }),
      ]),
    );
    try {
      const parts = await Promise.all(
        clients.map(async (client, index) => {
          const workload = workloads[index] as Workload;
          const boundMs =
            (workload.rampTimeoutSeconds + workload.holdSeconds + workload.handshakeTimeoutSeconds) * 1000 +
            PROCESSES_START_AHEAD_MS +
            CHILD_OVERHEAD_MS;
          const measurement = (await client.firstJsonLine(boundMs)) as ClientMeasurement;
          await client.exited;
          return measurement;
        }),
      );
      return parts.length === 1 ? (parts[0] as ClientMeasurement) : combineMeasurements(parts);
    } finally {
      await Promise.all(clients.map((client) => client.stop()));
    }
  } finally {
    await server.stop();
  }
}

function describeSetup(options: BenchOptions, shards: number, inFlight: number): string {
  const { budget } = options;
  const limit =
    budget.bound === 'descriptors'
      ? `the open-file limit ${budget.limit} less what is open and the self-check's headroom ` +
        `leaves ${budget.limitTarget}`
      : `the ${budget.limit} ephemeral ports toward one address${perSource(budget.sourceAddresses)} less the ` +
        `self-check's headroom leave ${budget.limitTarget}`;
  return [
    `ws-ceiling bench: the probe (runShard, ${shards} shard${shards === 1 ? '' : 's'} in one process) against ` +
      'plain ws,',
    `each client in its own process, each run against a fresh ws server in a third process, all on 127.0.0.1.`,
    `  ${options.connections} connections per run (${limit})`,
    `  ramp at ${options.connectRate}/s with ${inFlight} handshakes in flight (--max-in-flight ${options.maxInFlight}` +
      ' split over the shards, rounded up; the plain client gets the same total)',
    `  hold ${options.holdSeconds} s with protocol pings every ${options.pingSeconds} s, close with 1000`,
    ...leavingFrom(options),
    `  ${options.repeat} repetition${options.repeat === 1 ? '' : 's'}, probe and plain alternating; figures are ` +
      'medians',
  ].join('\n');
}

/** What the scaling comparison does, before its runs. */
function describeScalingSetup(options: BenchOptions, parts: readonly Workload[], oneFits: boolean): string {
  const { processes, processesBudget: budget } = options;
  const limit =
    budget.bound === 'descriptors'
      ? `the open-file limit ${budget.limit} of each process less what is open and the self-check's headroom ` +
        `leaves ${budget.limitTarget} in ${processes}`
      : `the ${budget.limit} ephemeral ports toward one address${perSource(budget.sourceAddresses)} less the ` +
        `self-check's headroom leave ${budget.limitTarget}`;
  return [
    `ws-ceiling bench: the probe (runShard) spread over ${processes} processes against the probe in one process,`,
    `each run against a fresh ws server of ${processes} processes sharing its port, all on 127.0.0.1.`,
    `  ${options.connections} connections per run (${limit}), split ${parts.map((p) => p.connections).join(' + ')}` +
      (oneFits
        ? ''
        : `; more than one process holds (${options.budget.limitTarget}), so only ${processes} processes run`),
    `  ramp at ${options.connectRate}/s with --max-in-flight ${options.maxInFlight}, both split over the processes, ` +
      `which start together at a planned time`,
    `  hold ${options.holdSeconds} s with protocol pings every ${options.pingSeconds} s, close with 1000`,
    ...leavingFrom(options),
    `  ${options.repeat} repetition${options.repeat === 1 ? '' : 's'}, alternating; figures are medians, CPU and ` +
      'RSS summed over the processes',
  ].join('\n');
}

/** ` of each of K source addresses` when there are several, else nothing. */
function perSource(sourceAddresses: number): string {
  return sourceAddresses > 1 ? ` of each of ${sourceAddresses} source addresses` : '';
}

/** The setup line naming `--source-address`, when given. */
function leavingFrom(options: BenchOptions): string[] {
  const addresses = options.sourceAddresses.map((source) => source.address);
  return addresses.length ? [`  connections leave from ${addresses.join(', ')} in turn, in every client process`] : [];
}

function describeRun(repetition: number, repeat: number, label: string, run: ClientMeasurement): string {
  return (
    `run ${repetition}/${repeat} ${label}: held ${run.heldAtEnd}/${run.connections}, ${run.falseDrops} ` +
    'false drops, ' +
    `${Math.round(run.handshakesPerSecond)} handshakes/s, ${Math.round(run.cpuMicrosPerHandshake)} µs CPU/handshake, ` +
    `${run.rssMiBPerThousand.toFixed(2)} MiB RSS/1,000, loop p99 ${run.loopDelayP99Ms.toFixed(1)} ms`
  );
}

try {
  process.exitCode = await runBench(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
} catch (error) {
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exitCode = error instanceof InvalidInputError ? 2 : 3;
}
