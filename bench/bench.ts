/**
 * `npm run bench`: the probe's connection layer against a plain ws client
 * doing the same work, on a loopback ws server. Every client run gets a
 * fresh server process and a process of its own; probe and plain alternate
 * for the asked repetitions. Prints medians, probe/plain ratios and the
 * issue's targets on stdout, one line per run on stderr. Exit 0 when every
 * run completed (met or not), 2 on bad flags, 3 when a run could not finish.
 */
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '../functions/engine/errors.js';
import { readHostBudget } from '../functions/probe-host/host-budget.js';
import { ChildProcesses } from './children.js';
import type { ClientMeasurement, Workload } from './measure.js';
import { BENCH_USAGE, connectionBudget, parseBenchArgs, type BenchOptions } from './options.js';
import { probePlan } from './probe-client.js';
import { formatSummary, summarize } from './report.js';

/** Time a child may take to start and to close everything, on top of its ramp and hold bounds. */
const CHILD_OVERHEAD_MS = 30_000;
const SERVER_START_TIMEOUT_MS = 15_000;

type ClientKind = 'probe' | 'plain';

const SERVER_SCRIPT = fileURLToPath(new URL('./loopback-server.js', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./client-worker.js', import.meta.url));

/** Runs the benchmark as asked by `argv` and returns the exit code. */
async function runBench(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  const request = parseBenchArgs(argv, connectionBudget(await readHostBudget()));
  if (request.kind === 'help') {
    io.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  const { options } = request;
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
    const workload = baseWorkload(options);
    const shards = probePlan(workload).shards;
    const inFlight = shards.reduce((sum, shard) => sum + shard.maxInFlight, 0);
    io.stdout.write(`${describeSetup(options, shards.length, inFlight)}\n\n`);
    const runs: Record<ClientKind, ClientMeasurement[]> = { probe: [], plain: [] };
    for (let repetition = 1; repetition <= options.repeat; repetition += 1) {
      const order: ClientKind[] = repetition % 2 === 1 ? ['probe', 'plain'] : ['plain', 'probe'];
      for (const kind of order) {
        // The plain client gets the in-flight bound the probe's shards add up to.
        const measurement = await measureInChild(
          children,
          kind,
          kind === 'plain' ? { ...workload, maxInFlight: inFlight } : workload,
        );
        runs[kind].push(measurement);
        io.stderr.write(`${describeRun(repetition, options.repeat, kind, measurement)}\n`);
      }
    }
    io.stdout.write(`${formatSummary(summarize(runs.probe, runs.plain, options), options)}\n`);
    return 0;
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    children.killAll();
  }
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
  };
}

/** One client run: a fresh loopback server, the client in its own process, both stopped before returning. */
async function measureInChild(
  children: ChildProcesses,
  kind: ClientKind,
  workload: Workload,
): Promise<ClientMeasurement> {
  const server = children.start(SERVER_SCRIPT, []);
  try {
    const { port } = (await server.firstJsonLine(SERVER_START_TIMEOUT_MS)) as { port: number };
    const client = children.start(CLIENT_SCRIPT, [
      kind,
      JSON.stringify({ ...workload, url: `ws://127.0.0.1:${port}/` }),
    ]);
    const boundMs =
      (workload.rampTimeoutSeconds + workload.holdSeconds + workload.handshakeTimeoutSeconds) * 1000 +
      CHILD_OVERHEAD_MS;
    try {
      const measurement = (await client.firstJsonLine(boundMs)) as ClientMeasurement;
      await client.exited;
      return measurement;
    } finally {
      await client.stop();
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
      : `the ${budget.limit} ephemeral ports toward one address less the self-check's headroom ` +
        `leave ${budget.limitTarget}`;
  return [
    `ws-ceiling bench: the probe (runShard, ${shards} shard${shards === 1 ? '' : 's'} in one process) against ` +
      'plain ws,',
    `each client in its own process, each run against a fresh ws server in a third process, all on 127.0.0.1.`,
    `  ${options.connections} connections per run (${limit})`,
    `  ramp at ${options.connectRate}/s with ${inFlight} handshakes in flight (--max-in-flight ${options.maxInFlight}` +
      ' split over the shards, rounded up; the plain client gets the same total)',
    `  hold ${options.holdSeconds} s with protocol pings every ${options.pingSeconds} s, close with 1000`,
    `  ${options.repeat} repetition${options.repeat === 1 ? '' : 's'}, probe and plain alternating; figures are ` +
      'medians',
  ].join('\n');
}

function describeRun(repetition: number, repeat: number, kind: ClientKind, run: ClientMeasurement): string {
  return (
    `run ${repetition}/${repeat} ${kind.padEnd(5)}: held ${run.heldAtEnd}/${run.connections}, ${run.falseDrops} ` +
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
