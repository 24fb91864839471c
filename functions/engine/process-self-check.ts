/**
 * The self-check of a run spread over probe processes (`--processes`),
 * before anything is sent. Each probe process runs whole shards with a
 * descriptor limit of its own, so what runs out is judged where it runs out:
 * - descriptors per probe process: the connections of its shards at the peak;
 * - local ports per pair of source and target address: connections take the
 *   source addresses in turn, and every one to the target address takes a
 *   port of its source address;
 * - memory across the machine: every process and every connection (twice
 *   when the simulator runs in this process);
 * - this process's descriptors: pipes to each probe process, and the server
 *   side of every connection when the simulator runs here;
 * - descriptors across the machine (fs.file-max).
 * A plan that does not fit is refused with what runs out and how many
 * processes, source addresses or connections would fit. Pure: the figures
 * come from functions/probe-host; the headroom of a process's descriptors,
 * of the port range and of memory is the single-process self-check's,
 * asked through checkProbeBudget.
 */
import { dealShards } from './probe-processes.js';
import {
  checkProbeBudget,
  MEMORY_PER_CONNECTION_BYTES,
  type HostBudget,
  type SelfCheck,
  type SelfCheckProblem,
  type SelfCheckResource,
} from './self-check.js';

/** Descriptors a probe process holds before its connections: stdio, IPC, Node's own, the /proc reads (20 measured). */
const PROBE_PROCESS_OPEN_DESCRIPTORS = 40;
/** Descriptors this process holds per probe process: stdout, stderr and IPC pipes (3.25 measured), and spare. */
const DESCRIPTORS_PER_PROBE_PROCESS = 4;
/** Resident memory of a probe process before its connections: Node and the probe's modules (55 MiB measured). */
const PROBE_PROCESS_BASE_BYTES = 96 * 1024 * 1024;
/** Memory a probe process's own self-check keeps free beyond its connections (LAMBDA_MEMORY_HEADROOM_BYTES). */
const PROBE_PROCESS_HEADROOM_BYTES = 32 * 1024 * 1024;

const MIB = 1024 * 1024;

/** What a run over probe processes asks of this machine. */
export interface ProcessesDemand {
  processes: number;
  /** Connections each shard holds at the plan's peak (its share of the largest stage), by shard index. */
  shardPeaks: readonly number[];
  /** Local addresses the connections leave from in turn (1 when the system chooses). */
  sourceAddresses: number;
  /** True when the target simulator runs in this process: it holds the server side of every connection. */
  simulatorHere: boolean;
}

/** What this machine has, as read before the run (bin/cli/rehearsal-preflight.ts reads the same figures). */
export interface ProcessesBudget {
  /** This process's budget: its soft descriptor limit and open descriptors, the port range, free memory. */
  host: HostBudget;
  /** This process's hard descriptor limit, which each probe process is given; null when unknown. */
  hardDescriptorLimit: number | null;
  /** Descriptors allocated and the maximum across the machine (fs.file-nr, fs.file-max); null when unknown. */
  machineDescriptors: { allocated: number; max: number } | null;
}

/** Where a resource runs out: in a probe process, between a source and the target address, here, or machine-wide. */
export type ProcessesScope = 'probe-process' | 'address-pair' | 'this-process' | 'machine';

/** One resource that would run out, with what would fit. */
export interface ProcessesProblem extends SelfCheckProblem {
  scope: ProcessesScope;
  /** What would carry the plan, where a count can: processes, source addresses, or connections on this machine. */
  fits?: { processes?: number; sourceAddresses?: number; connections?: number };
}

/** The outcome of the check across processes. */
export interface ProcessesCheck extends SelfCheck {
  problems: ProcessesProblem[];
}

/** The descriptor limit each probe process is given: this process's hard limit, or else its soft limit. */
export function probeProcessDescriptorLimit(budget: ProcessesBudget): number | null {
  return budget.hardDescriptorLimit ?? budget.host.descriptorLimit;
}

/**
 * The memory size to give a probe process that holds `connections`, MB: its
 * own start, the connections at the self-check's figure, and the headroom its
 * self-check keeps (it judges memory against this size, and the sandbox stops
 * it above; its heap limit is 90 % of it).
 */
export function probeProcessMemoryMb(connections: number): number {
  const bytes = PROBE_PROCESS_BASE_BYTES + connections * MEMORY_PER_CONNECTION_BYTES + PROBE_PROCESS_HEADROOM_BYTES;
  return Math.ceil(bytes / MIB);
}

/** Connections one probe process holds within `descriptorLimit`, after what it opens itself and the headroom. */
export function probeProcessCapacity(descriptorLimit: number): number {
  return descriptorsLeft(descriptorLimit, PROBE_PROCESS_OPEN_DESCRIPTORS);
}

/** Descriptors a process with `limit` and `open` descriptors leaves for connections after the headroom. */
function descriptorsLeft(descriptorLimit: number, openDescriptors: number): number {
  const host = {
    descriptorLimit,
    openDescriptors,
    ephemeralPorts: null,
    freeMemoryBytes: Number.POSITIVE_INFINITY,
    heapAvailableBytes: Number.POSITIVE_INFINITY,
  };
  return availableFor('descriptors', host) ?? 0;
}

/** The lowest descriptor limit that leaves `needed` for connections to a process with `open` descriptors. */
function limitFor(needed: number, openDescriptors: number): number {
  let limit = Math.ceil((needed + openDescriptors) / 0.95);
  while (descriptorsLeft(limit, openDescriptors) < needed) limit += 1;
  return limit;
}

/** Connections each process holds at the peak when the shards are dealt over `processes`. */
export function processPeaks(shardPeaks: readonly number[], processes: number): number[] {
  const shards = shardPeaks.map((peak, index) => ({ index, peak }));
  return dealShards(shards, processes).map((dealt) => dealt.reduce((total, shard) => total + shard.peak, 0));
}

/** Fewest processes whose every share fits `capacity` connections; null when even one shard each does not fit. */
export function fewestProcesses(shardPeaks: readonly number[], capacity: number): number | null {
  for (let processes = 1; processes <= shardPeaks.length; processes += 1) {
    if (Math.max(0, ...processPeaks(shardPeaks, processes)) <= capacity) return processes;
  }
  return null;
}

/** Judges a run over probe processes against this machine: every problem, each with its fix. */
export function checkProcesses(demand: ProcessesDemand, budget: ProcessesBudget): ProcessesCheck {
  const unchecked: SelfCheckResource[] = [];
  const peak = demand.shardPeaks.reduce((total, shardPeak) => total + shardPeak, 0);
  const problems = [
    perProcessDescriptors(demand, budget, unchecked),
    portsPerPair(demand, peak, budget, unchecked),
    machineMemory(demand, peak, budget),
    ownDescriptors(demand, peak, budget),
    machineDescriptors(demand, peak, budget),
  ].filter((problem): problem is ProcessesProblem => problem !== undefined);
  return { ok: problems.length === 0, problems, unchecked: [...new Set(unchecked)] };
}

function perProcessDescriptors(
  demand: ProcessesDemand,
  budget: ProcessesBudget,
  unchecked: SelfCheckResource[],
): ProcessesProblem | undefined {
  const limit = probeProcessDescriptorLimit(budget);
  if (limit === null) {
    unchecked.push('descriptors');
    return undefined;
  }
  const capacity = probeProcessCapacity(limit);
  const worst = Math.max(0, ...processPeaks(demand.shardPeaks, demand.processes));
  if (worst <= capacity) return undefined;
  const fewest = fewestProcesses(demand.shardPeaks, capacity);
  const source = budget.hardDescriptorLimit !== null ? 'the hard limit, ulimit -Hn' : 'the limit, ulimit -n';
  const needs = limitFor(worst, PROBE_PROCESS_OPEN_DESCRIPTORS);
  const raise = `raise the hard descriptor limit to at least ${needs} (ulimit -Hn, as root or in limits.conf)`;
  const processes = demand.processes === 1 ? 'one probe process' : `${demand.processes} probe processes`;
  return {
    resource: 'descriptors',
    scope: 'probe-process',
    needed: worst,
    available: capacity,
    summary:
      `A probe process would run out of file descriptors: with ${processes} one holds ${worst} connections, but ` +
      `each gets ${limit} descriptors (${source}), which leaves ${capacity} for connections after what it opens ` +
      'itself and the headroom.',
    fix:
      fewest === null
        ? `lower --shard-size to ${capacity} or less, so that one shard fits a process, or ${raise}`
        : `run with --processes ${fewest} or more, or ${raise}`,
    ...(fewest === null ? {} : { fits: { processes: fewest } }),
  };
}

function portsPerPair(
  demand: ProcessesDemand,
  peak: number,
  budget: ProcessesBudget,
  unchecked: SelfCheckResource[],
): ProcessesProblem | undefined {
  const ports = budget.host.ephemeralPorts;
  const available = availableFor('ephemeral-ports', budget.host);
  if (ports === null || available === undefined) {
    unchecked.push('ephemeral-ports');
    return undefined;
  }
  const addresses = Math.max(1, demand.sourceAddresses);
  const perPair = Math.ceil(peak / addresses);
  if (perPair <= available) return undefined;
  const fits = Math.ceil(peak / available);
  const spread = addresses === 1 ? 'from one source address' : `spread over ${addresses} source addresses`;
  return {
    resource: 'ephemeral-ports',
    scope: 'address-pair',
    needed: perPair,
    available,
    summary:
      `The probe would run out of local ports: the peak of ${peak} connections to one target address, ${spread}, ` +
      `takes ${perPair} ports of ${addresses === 1 ? 'it' : 'each'}, but the range ${ports.low}–${ports.high} ` +
      `gives ${available} after headroom.`,
    fix:
      `spread the connections over ${fits} source addresses or more (--source-address A,B,…), or widen ` +
      'net.ipv4.ip_local_port_range; more processes do not help, as they share the source addresses',
    fits: { sourceAddresses: fits },
  };
}

function machineMemory(demand: ProcessesDemand, peak: number, budget: ProcessesBudget): ProcessesProblem | undefined {
  const available = availableFor('memory', budget.host) ?? 0;
  const perConnection = MEMORY_PER_CONNECTION_BYTES * (demand.simulatorHere ? 2 : 1);
  const processes = demand.processes * PROBE_PROCESS_BASE_BYTES;
  const needed = peak * perConnection + processes;
  if (needed <= available) return undefined;
  const fits = Math.max(0, Math.floor((available - processes) / perConnection));
  const simulator = demand.simulatorHere ? ", and the simulator's side of each" : '';
  return {
    resource: 'memory',
    scope: 'machine',
    needed,
    available,
    summary:
      `The probe would run short of memory: ${demand.processes} probe processes holding ${peak} connections` +
      `${simulator} need about ${mib(needed)} MiB, but only ${mib(available)} MiB is free after the headroom.`,
    fix:
      `probe with at most ${fits} connections on this machine (--stages), or from a larger one; more processes or ` +
      'source addresses do not help',
    fits: { connections: fits },
  };
}

function ownDescriptors(demand: ProcessesDemand, peak: number, budget: ProcessesBudget): ProcessesProblem | undefined {
  const { host } = budget;
  const available = availableFor('descriptors', host);
  if (available === undefined || host.descriptorLimit === null || host.openDescriptors === null) return undefined;
  const pipes = demand.processes * DESCRIPTORS_PER_PROBE_PROCESS;
  const needed = pipes + (demand.simulatorHere ? peak : 0);
  if (needed <= available) return undefined;
  const what = demand.simulatorHere
    ? `the simulator's side of ${peak} connections and pipes to ${demand.processes} probe processes`
    : `pipes to ${demand.processes} probe processes`;
  const raise = `raise the descriptor limit to at least ${limitFor(needed, host.openDescriptors)} (ulimit -n)`;
  return {
    resource: 'descriptors',
    scope: 'this-process',
    needed,
    available,
    summary:
      `This process would run out of file descriptors: it holds ${what}, ${needed} descriptors, but its limit of ` +
      `${host.descriptorLimit} (ulimit -n) less ${host.openDescriptors} open and the headroom leaves ${available}.`,
    fix: demand.simulatorHere ? `${raise}, or probe a target that runs outside this process` : raise,
  };
}

function machineDescriptors(
  demand: ProcessesDemand,
  peak: number,
  budget: ProcessesBudget,
): ProcessesProblem | undefined {
  const machine = budget.machineDescriptors;
  if (machine === null) return undefined;
  const needed = peak * (demand.simulatorHere ? 2 : 1) + demand.processes * PROBE_PROCESS_OPEN_DESCRIPTORS;
  const left = Math.max(0, machine.max - machine.allocated);
  if (needed <= left) return undefined;
  return {
    resource: 'descriptors',
    scope: 'machine',
    needed,
    available: left,
    summary:
      `The machine would run out of file descriptors: ${peak} connections in ${demand.processes} probe processes ` +
      `need about ${needed}, but ${left} are left of its ${machine.max} (fs.file-max).`,
    fix: 'raise fs.file-max (sysctl -w fs.file-max=…), or probe with fewer connections (--stages)',
  };
}

/**
 * How much of `resource` the single-process self-check leaves for connections
 * on `host` after what is in use and its headroom; undefined when it cannot
 * tell (the figure is unknown). Asked with a demand no host can meet, so the
 * answer is always the `available` of a problem.
 */
function availableFor(resource: SelfCheckResource, host: HostBudget): number | undefined {
  const check = checkProbeBudget(
    {
      connectionsPerProcess: Number.MAX_SAFE_INTEGER,
      costPerConnection: 1,
      connectionsPerTargetAddress: Number.MAX_SAFE_INTEGER,
      shardsShareProcess: true,
    },
    host,
  );
  return check.problems.find((problem) => problem.resource === resource)?.available;
}

function mib(bytes: number): number {
  return Math.round(bytes / MIB);
}
