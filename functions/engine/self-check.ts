/**
 * The probe's self-check: before a run, compares what the plan asks of this
 * process (descriptors, local ports toward the target, memory, V8 heap) with
 * what the host has. Anything short would make the probe, not the target, the
 * limit, so the run must be `inconclusive` with the reason and the fix, never
 * a ceiling. Pure: the figures come from functions/probe-host/host-budget.ts.
 */

/** The probe host's resources as read just before a run (see functions/probe-host/host-budget.ts). */
export interface HostBudget {
  /** Soft `Max open files` of this process; null when unlimited or unknown. */
  descriptorLimit: number | null;
  /** Descriptors this process has open now; null when unknown. */
  openDescriptors: number | null;
  /** Local port range for outgoing connections, inclusive; null when unknown. */
  ephemeralPorts: { low: number; high: number } | null;
  /** Memory the OS reports free, bytes. */
  freeMemoryBytes: number;
  /** V8 heap still available to this process, bytes. */
  heapAvailableBytes: number;
}

/** What a plan asks of the process that runs it. */
export interface ProbeDemand {
  /** Most connections this process holds at once. */
  connectionsPerProcess: number;
  /** Descriptors and memory each connection costs this process: 1, or 2 when the target simulator runs in it too. */
  costPerConnection: number;
  /** Most connections from this host's one source address to one target address (each takes a local port). */
  connectionsPerTargetAddress: number;
  /** True when every shard runs in this process (the local CLI), so more shards do not help. */
  shardsShareProcess: boolean;
}

/** A resource the probe would run out of. */
export type SelfCheckResource = 'descriptors' | 'ephemeral-ports' | 'memory' | 'heap';

/** One resource that would limit the probe, in figures and plain words. */
export interface SelfCheckProblem {
  resource: SelfCheckResource;
  /** Units the plan needs (descriptors, ports or bytes). */
  needed: number;
  /** Units left for the plan after what is in use and the headroom. */
  available: number;
  /** What runs out, in one sentence with the figures. */
  summary: string;
  /** What to do about it. */
  fix: string;
}

/** The outcome of a self-check. */
export interface SelfCheck {
  ok: boolean;
  problems: SelfCheckProblem[];
  /** Resources that could not be read and so were not checked. */
  unchecked: SelfCheckResource[];
}

/** Descriptors kept free beyond the connections: the store, DNS, logs. At least this many, or 5 % of the limit. */
const DESCRIPTOR_HEADROOM = 32;
/** Local ports kept free for everything else on the host, as a fraction of the range. */
const PORT_HEADROOM_FRACTION = 0.05;
/** Resident memory one connection costs, with room to spare (about 14 KB measured on Node 20 with `ws` 8). */
export const MEMORY_PER_CONNECTION_BYTES = 32 * 1024;
/** V8 heap one connection costs, with room to spare (about 4.3 KB measured). */
const HEAP_PER_CONNECTION_BYTES = 8 * 1024;
/** Memory left free for the rest of the host. */
const MEMORY_HEADROOM_BYTES = 256 * 1024 * 1024;
/** V8 heap left free for everything but connections (records, analysis, the store). */
const HEAP_HEADROOM_BYTES = 64 * 1024 * 1024;

const MIB = 1024 * 1024;

/** Judges a plan's demand against the host's budget. */
export function checkProbeBudget(demand: ProbeDemand, budget: HostBudget): SelfCheck {
  const unchecked: SelfCheckResource[] = [];
  const problems = [
    checkDescriptors(demand, budget, unchecked),
    checkPorts(demand, budget, unchecked),
    checkMemory(demand, budget),
    checkHeap(demand, budget),
  ].filter((problem): problem is SelfCheckProblem => problem !== undefined);
  return { ok: problems.length === 0, problems, unchecked };
}

/** The self-check's problems as one paragraph: each summary followed by its fix. */
export function describeSelfCheckProblems(check: SelfCheck): string {
  return check.problems.map((problem) => `${problem.summary} Fix: ${problem.fix}.`).join(' ');
}

function checkDescriptors(demand: ProbeDemand, budget: HostBudget, unchecked: SelfCheckResource[]): SelfCheckProblem | undefined {
  if (budget.descriptorLimit === null || budget.openDescriptors === null) {
    unchecked.push('descriptors');
    return undefined;
  }
  const limit = budget.descriptorLimit;
  const headroom = Math.max(DESCRIPTOR_HEADROOM, Math.ceil(limit * 0.05));
  const needed = demand.connectionsPerProcess * demand.costPerConnection;
  const available = Math.max(0, limit - budget.openDescriptors - headroom);
  if (needed <= available) return undefined;
  const limitNeeded = Math.ceil((needed + budget.openDescriptors + DESCRIPTOR_HEADROOM) / 0.95);
  const perConnection = demand.costPerConnection === 1 ? '' : ` (${demand.costPerConnection} each: the simulator runs in this process too)`;
  const fix = demand.shardsShareProcess
    ? `raise the descriptor limit to at least ${limitNeeded} (ulimit -n ${limitNeeded}) before starting the probe; every shard runs in this one process, so more shards do not help here`
    : `lower --shard-size to ${Math.max(1, Math.floor(available / demand.costPerConnection))} so each shard's process fits, or raise the descriptor limit to at least ${limitNeeded}`;
  return {
    resource: 'descriptors',
    needed,
    available,
    summary: `The probe would run out of file descriptors: ${demand.connectionsPerProcess} connections need ${needed} descriptors${perConnection}, but the descriptor limit of ${limit} (ulimit -n) less ${budget.openDescriptors} already open and ${headroom} headroom leaves ${available}.`,
    fix,
  };
}

function checkPorts(demand: ProbeDemand, budget: HostBudget, unchecked: SelfCheckResource[]): SelfCheckProblem | undefined {
  if (budget.ephemeralPorts === null) {
    unchecked.push('ephemeral-ports');
    return undefined;
  }
  const { low, high } = budget.ephemeralPorts;
  const range = high - low + 1;
  const available = range - Math.ceil(range * PORT_HEADROOM_FRACTION);
  const needed = demand.connectionsPerTargetAddress;
  if (needed <= available) return undefined;
  return {
    resource: 'ephemeral-ports',
    needed,
    available,
    summary: `The probe would run out of local ports: ${needed} connections to one target address take ${needed} ephemeral ports from one source address, but the range ${low}–${high} gives ${range}, ${available} after headroom.`,
    fix: `spread the load over more source addresses or machines (more shards on more hosts), or widen net.ipv4.ip_local_port_range`,
  };
}

function checkMemory(demand: ProbeDemand, budget: HostBudget): SelfCheckProblem | undefined {
  const needed = demand.connectionsPerProcess * demand.costPerConnection * MEMORY_PER_CONNECTION_BYTES;
  const available = Math.max(0, budget.freeMemoryBytes - MEMORY_HEADROOM_BYTES);
  if (needed <= available) return undefined;
  return {
    resource: 'memory',
    needed,
    available,
    summary: `The probe would run short of memory: ${demand.connectionsPerProcess} connections need about ${mib(needed)} MiB, but only ${mib(available)} MiB is free after ${mib(MEMORY_HEADROOM_BYTES)} MiB headroom.`,
    fix: 'run fewer connections per process (more shards on more machines) or free memory on this host',
  };
}

function checkHeap(demand: ProbeDemand, budget: HostBudget): SelfCheckProblem | undefined {
  const needed = demand.connectionsPerProcess * demand.costPerConnection * HEAP_PER_CONNECTION_BYTES;
  const available = Math.max(0, budget.heapAvailableBytes - HEAP_HEADROOM_BYTES);
  if (needed <= available) return undefined;
  const size = Math.ceil((needed + HEAP_HEADROOM_BYTES * 2) / MIB);
  return {
    resource: 'heap',
    needed,
    available,
    summary: `The probe would run out of V8 heap: ${demand.connectionsPerProcess} connections need about ${mib(needed)} MiB of heap, but ${mib(available)} MiB is left after ${mib(HEAP_HEADROOM_BYTES)} MiB headroom.`,
    fix: `give Node a larger heap (NODE_OPTIONS=--max-old-space-size=${size}) or run fewer connections per process`,
  };
}

function mib(bytes: number): number {
  return Math.round(bytes / MIB);
}
