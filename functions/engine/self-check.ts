/**
 * The probe's self-check: before a run, compares what the plan asks of this
 * process (descriptors, local ports toward the target, memory, V8 heap) with
 * what the host has; while it runs, judges each sample of the host (see
 * functions/connection/resource-watch.ts) against half that headroom. Anything
 * short would make the probe, not the target, the limit, so the run must be
 * `inconclusive` with the reason and the fix, never a ceiling. The fix for
 * each resource is written here once (probeLimitFix), for every place that
 * reports the probe's own limits. Pure: the figures come from
 * functions/probe-host/host-budget.ts.
 */

/** The probe host's resources as read just before a run (see functions/probe-host/host-budget.ts). */
export interface HostBudget {
  /** Soft `Max open files` of this process; null when unlimited or unknown. */
  descriptorLimit: number | null;
  /** Descriptors this process has open now; null when unknown. */
  openDescriptors: number | null;
  /** Local port range for outgoing connections, inclusive; null when unknown. */
  ephemeralPorts: { low: number; high: number } | null;
  /**
   * Memory the probe may still use, bytes: what the OS reports free, or a Lambda sandbox's size less what this process
   * holds.
   */
  freeMemoryBytes: number;
  /**
   * Memory kept free for everything but the probe's connections; default 256 MiB (MEMORY_HEADROOM_BYTES, for a
   * machine shared with other programs).
   */
  memoryHeadroomBytes?: number;
  /** V8 heap still available to this process, bytes. */
  heapAvailableBytes: number;
  /** True when reading the descriptors failed for want of one (EMFILE, ENFILE): none is left. */
  descriptorsExhausted?: boolean;
}

/** What a plan asks of the process that runs it. */
export interface ProbeDemand {
  /** Most connections this process holds at once. */
  connectionsPerProcess: number;
  /** Descriptors and memory each connection costs this process: 1, or 2 when the target simulator runs in it too. */
  costPerConnection: number;
  /** Most connections from this host to one target address (each takes a local port of its source address). */
  connectionsPerTargetAddress: number;
  /**
   * Source addresses the connections leave from in turn (`--source-address`), 1 when absent: each address has its
   * own ports, so each needs only its share.
   */
  sourceAddresses?: number;
  /**
   * True when every shard runs in this process (the local CLI), so more shards do not help; false for a Lambda worker
   * running one shard.
   */
  shardsShareProcess: boolean;
}

/** A resource the probe would run out of. */
export type SelfCheckResource = 'descriptors' | 'ephemeral-ports' | 'memory' | 'heap';

/** What the probe itself can run short of: a resource of its host, or time on its event loop. */
export type ProbeResource = SelfCheckResource | 'event-loop';

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
/**
 * Resident memory one connection costs, with room to spare (11.7 KB measured over 5,000 held connections on loopback,
 * Node 20, `ws` 8; docs/concepts.md "The self-check").
 */
export const MEMORY_PER_CONNECTION_BYTES = 32 * 1024;
/** V8 heap one connection costs, with room to spare (3.2 KB measured in the same run). */
const HEAP_PER_CONNECTION_BYTES = 8 * 1024;
/** Memory left free for the rest of a host shared with other programs (a laptop, a CI runner). */
const MEMORY_HEADROOM_BYTES = 256 * 1024 * 1024;
/** V8 heap left free for everything but connections (records, analysis, the store). */
const HEAP_HEADROOM_BYTES = 64 * 1024 * 1024;
/**
 * Fraction of each headroom that must stay free while the run goes on. A
 * plan may fill everything but the headroom, so at its peak only the headroom
 * is left; the store, DNS or a log may then take some of it without the
 * probe running out. Less than half of it left is short.
 */
const RUNNING_RESERVE_FRACTION = 0.5;

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

/**
 * What the resource watch stopped a run for, as one paragraph: what ran
 * short, that no limit of the target can be told, and the fix.
 */
export function describeRunningShortfall(problems: readonly SelfCheckProblem[]): string {
  const fixes = [...new Set(problems.map((problem) => problem.fix))];
  return (
    `${problems.map((problem) => problem.summary).join(' ')} So this run cannot say where the target's ` +
    `limit is. Fix: ${fixes.join('; ')}.`
  );
}

/** Figures that make a fix exact, where known. */
export interface FixFigures {
  /** Descriptor limit the plan needs. */
  descriptorLimit?: number;
  /** Connections that fit one process, for a smaller shard size. */
  connectionsThatFit?: number;
  /** Heap size in MiB the plan needs. */
  heapMiB?: number;
  /** Source addresses whose ports carry the connections to one target address. */
  sourceAddressesThatFit?: number;
}

/**
 * The one fix for a probe that ran short of `resource`. Every shard of a
 * local run shares the CLI's one process, so more shards (--shard-size) do
 * not help there; a Lambda worker runs one shard, so a smaller shard size
 * spreads the load over more workers (the worker has no --shard-size flag).
 */
export function probeLimitFix(resource: ProbeResource, shardsShareProcess: boolean, figures: FixFigures = {}): string {
  if (!shardsShareProcess) {
    const fits =
      figures.connectionsThatFit === undefined
        ? ''
        : ` (at most ${figures.connectionsThatFit} connections fit one worker)`;
    return `lower the shard size (shardSize in the config) so more shards share the load${fits}`;
  }
  const notShards = 'every shard runs in this one process, so more shards (--shard-size) do not help here';
  switch (resource) {
    case 'descriptors': {
      const limit = figures.descriptorLimit;
      return (
        `raise the descriptor limit${
          limit === undefined ? ' (ulimit -n)' : ` to at least ${limit} (ulimit -n ${limit}` + ')'
        }` + ` before starting the probe and keep it there for the whole run; ${notShards}`
      );
    }
    case 'ephemeral-ports': {
      const fits = figures.sourceAddressesThatFit;
      const spread =
        fits === undefined
          ? 'spread the load over more source addresses or machines'
          : `spread the connections over ${fits} source addresses or more (--source-address A,B,…) or over machines`;
      return `${spread}, or widen net.ipv4.ip_local_port_range; every shard here takes its ports from this one host`;
    }
    case 'memory':
      return `free memory on this host or probe from a larger machine; ${notShards}`;
    case 'heap': {
      const size = figures.heapMiB === undefined ? '' : `=${figures.heapMiB}`;
      return `give Node a larger heap (NODE_OPTIONS=--max-old-space-size${size}); ${notShards}`;
    }
    case 'event-loop':
      return `probe with fewer connections (--stages) or from a larger, quieter machine; ${notShards}`;
  }
}

/**
 * The self-check while a run goes on: how to read the host and judge a
 * reading. The connection layer's resource watch samples it
 * (functions/connection/resource-watch.ts) and stops the run as
 * `probe-limited` at the first shortfall.
 */
export interface RunningHostCheck {
  read: () => Promise<HostBudget>;
  judge: (now: HostBudget) => SelfCheckProblem[];
}

/**
 * The self-check of `demand` on the host that `read` reads, before and while
 * the run goes on: the check of a first reading, and the judge of every later
 * one against it (the CLI and the Lambda worker alike).
 */
export async function selfCheckHost(
  demand: ProbeDemand,
  read: () => Promise<HostBudget>,
): Promise<{ selfCheck: SelfCheck; running: RunningHostCheck }> {
  const atStart = await read();
  return {
    selfCheck: checkProbeBudget(demand, atStart),
    running: { read, judge: (now) => checkRunningBudget(demand, atStart, now) },
  };
}

/**
 * Judges one sample of the host taken while the run goes on: fewer
 * descriptors left than half their headroom (or none left to read them
 * with), free memory or V8 heap under half of theirs. `atStart` is the
 * reading the run was checked against before it began, for the fix's figures.
 */
export function checkRunningBudget(demand: ProbeDemand, atStart: HostBudget, now: HostBudget): SelfCheckProblem[] {
  return [runningDescriptors(demand, atStart, now), runningMemory(demand, now), runningHeap(demand, now)].filter(
    (problem): problem is SelfCheckProblem => problem !== undefined,
  );
}

function checkDescriptors(
  demand: ProbeDemand,
  budget: HostBudget,
  unchecked: SelfCheckResource[],
): SelfCheckProblem | undefined {
  if (budget.descriptorLimit === null || budget.openDescriptors === null) {
    unchecked.push('descriptors');
    return undefined;
  }
  const limit = budget.descriptorLimit;
  const headroom = descriptorHeadroom(limit);
  const needed = demand.connectionsPerProcess * demand.costPerConnection;
  const available = Math.max(0, limit - budget.openDescriptors - headroom);
  if (needed <= available) return undefined;
  const perConnection =
    demand.costPerConnection === 1 ? '' : ` (${demand.costPerConnection} each: the simulator runs in this process too)`;
  return {
    resource: 'descriptors',
    needed,
    available,
    summary:
      `The probe would run out of file descriptors: ${demand.connectionsPerProcess} connections need ${needed}` +
      ` descriptors${perConnection}, but the descriptor limit of ${limit} (ulimit -n) less ${budget.openDescriptors}` +
      ` already open and ${headroom} headroom leaves ${available}.`,
    fix: probeLimitFix('descriptors', demand.shardsShareProcess, descriptorFigures(demand, budget)),
  };
}

function runningDescriptors(demand: ProbeDemand, atStart: HostBudget, now: HostBudget): SelfCheckProblem | undefined {
  const fix = probeLimitFix('descriptors', demand.shardsShareProcess, descriptorFigures(demand, atStart));
  if (now.descriptorsExhausted) {
    return {
      resource: 'descriptors',
      needed: 1,
      available: 0,
      summary:
        'While the run went on, the probe ran out of file descriptors: it had none left to read /proc/self/fd ' +
        'with (EMFILE).',
      fix,
    };
  }
  if (now.descriptorLimit === null || now.openDescriptors === null) return undefined;
  const reserve = Math.ceil(descriptorHeadroom(now.descriptorLimit) * RUNNING_RESERVE_FRACTION);
  const left = now.descriptorLimit - now.openDescriptors;
  if (left >= reserve) return undefined;
  const lowered =
    atStart.descriptorLimit !== null && atStart.descriptorLimit !== now.descriptorLimit
      ? `, changed from ${atStart.descriptorLimit} since the run started`
      : '';
  return {
    resource: 'descriptors',
    needed: reserve,
    available: Math.max(0, left),
    summary:
      `While the run went on, the probe ran short of file descriptors: ${now.openDescriptors} open ` +
      `against a descriptor limit (ulimit -n) of ${now.descriptorLimit}${lowered}, fewer than the ${reserve}` +
      ' it keeps in reserve.',
    fix,
  };
}

/** Descriptors kept free beyond the connections: DESCRIPTOR_HEADROOM or 5 % of the limit, whichever is larger. */
function descriptorHeadroom(limit: number): number {
  return Math.max(DESCRIPTOR_HEADROOM, Math.ceil(limit * 0.05));
}

/** The descriptor limit the plan needs from a reading before the run, and the connections that fit. */
function descriptorFigures(demand: ProbeDemand, budget: HostBudget): FixFigures {
  if (budget.descriptorLimit === null || budget.openDescriptors === null) return {};
  const needed = demand.connectionsPerProcess * demand.costPerConnection;
  const available = Math.max(
    0,
    budget.descriptorLimit - budget.openDescriptors - descriptorHeadroom(budget.descriptorLimit),
  );
  return {
    descriptorLimit: Math.ceil((needed + budget.openDescriptors + DESCRIPTOR_HEADROOM) / 0.95),
    connectionsThatFit: Math.max(1, Math.floor(available / demand.costPerConnection)),
  };
}

function checkPorts(
  demand: ProbeDemand,
  budget: HostBudget,
  unchecked: SelfCheckResource[],
): SelfCheckProblem | undefined {
  if (budget.ephemeralPorts === null) {
    unchecked.push('ephemeral-ports');
    return undefined;
  }
  const { low, high } = budget.ephemeralPorts;
  const range = high - low + 1;
  const available = range - Math.ceil(range * PORT_HEADROOM_FRACTION);
  const addresses = Math.max(1, demand.sourceAddresses ?? 1);
  const connections = demand.connectionsPerTargetAddress;
  const needed = Math.ceil(connections / addresses);
  if (needed <= available) return undefined;
  const from = addresses === 1 ? 'one source address' : `each of ${addresses} source addresses`;
  return {
    resource: 'ephemeral-ports',
    needed,
    available,
    summary:
      `The probe would run out of local ports: ${connections} connections to one target address take ${needed} ` +
      `ephemeral ports from ${from}, but the range ${low}–${high} gives ${range}, ${available} after headroom.`,
    fix: probeLimitFix('ephemeral-ports', demand.shardsShareProcess, {
      connectionsThatFit: available,
      sourceAddressesThatFit: Math.ceil(connections / available),
    }),
  };
}

function checkMemory(demand: ProbeDemand, budget: HostBudget): SelfCheckProblem | undefined {
  const needed = demand.connectionsPerProcess * demand.costPerConnection * MEMORY_PER_CONNECTION_BYTES;
  const headroom = budget.memoryHeadroomBytes ?? MEMORY_HEADROOM_BYTES;
  const available = Math.max(0, budget.freeMemoryBytes - headroom);
  if (needed <= available) return undefined;
  return {
    resource: 'memory',
    needed,
    available,
    summary:
      `The probe would run short of memory: ${demand.connectionsPerProcess} connections need about ${mib(needed)}` +
      ` MiB, but only ${mib(available)} MiB is free after ${mib(headroom)} MiB headroom.`,
    fix: probeLimitFix('memory', demand.shardsShareProcess, {
      connectionsThatFit: Math.floor(available / (demand.costPerConnection * MEMORY_PER_CONNECTION_BYTES)),
    }),
  };
}

function runningMemory(demand: ProbeDemand, now: HostBudget): SelfCheckProblem | undefined {
  const reserve = (now.memoryHeadroomBytes ?? MEMORY_HEADROOM_BYTES) * RUNNING_RESERVE_FRACTION;
  if (now.freeMemoryBytes >= reserve) return undefined;
  return {
    resource: 'memory',
    needed: reserve,
    available: now.freeMemoryBytes,
    summary:
      `While the run went on, the probe's host ran short of memory: ${mib(now.freeMemoryBytes)} MiB free, ` +
      `under the ${mib(reserve)} MiB it keeps in reserve.`,
    fix: probeLimitFix('memory', demand.shardsShareProcess),
  };
}

function checkHeap(demand: ProbeDemand, budget: HostBudget): SelfCheckProblem | undefined {
  const needed = demand.connectionsPerProcess * demand.costPerConnection * HEAP_PER_CONNECTION_BYTES;
  const available = Math.max(0, budget.heapAvailableBytes - HEAP_HEADROOM_BYTES);
  if (needed <= available) return undefined;
  return {
    resource: 'heap',
    needed,
    available,
    summary:
      `The probe would run out of V8 heap: ${demand.connectionsPerProcess} connections need about ${mib(needed)}` +
      ` MiB of heap, but ${mib(available)} MiB is left after ${mib(HEAP_HEADROOM_BYTES)} MiB headroom.`,
    fix: probeLimitFix('heap', demand.shardsShareProcess, heapFigures(demand, available)),
  };
}

function runningHeap(demand: ProbeDemand, now: HostBudget): SelfCheckProblem | undefined {
  const reserve = HEAP_HEADROOM_BYTES * RUNNING_RESERVE_FRACTION;
  if (now.heapAvailableBytes >= reserve) return undefined;
  return {
    resource: 'heap',
    needed: reserve,
    available: now.heapAvailableBytes,
    summary:
      `While the run went on, the probe ran short of V8 heap: ${mib(now.heapAvailableBytes)} MiB left, ` +
      `under the ${mib(reserve)} MiB it keeps in reserve.`,
    fix: probeLimitFix('heap', demand.shardsShareProcess, heapFigures(demand, 0)),
  };
}

/** The heap the plan needs with headroom twice over, and the connections that fit what is left. */
function heapFigures(demand: ProbeDemand, available: number): FixFigures {
  const needed = demand.connectionsPerProcess * demand.costPerConnection * HEAP_PER_CONNECTION_BYTES;
  return {
    heapMiB: Math.ceil((needed + HEAP_HEADROOM_BYTES * 2) / MIB),
    connectionsThatFit: Math.floor(available / (demand.costPerConnection * HEAP_PER_CONNECTION_BYTES)),
  };
}

function mib(bytes: number): number {
  return Math.round(bytes / MIB);
}
