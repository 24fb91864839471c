/**
 * The self-check of a rehearsal across processes, before anything starts:
 * every worker Lambda becomes a process of its own here, so the plan's
 * workers × shard size must fit this machine. Each worker's own self-check
 * still judges its 1024 descriptors and its memory size, as deployed; this
 * one judges what the workers share:
 * - the descriptor limit each child is given (this process's hard limit
 *   must allow Lambda's 1024), and this process's own descriptors (pipes to
 *   every child);
 * - descriptors across the machine (fs.file-nr against fs.file-max);
 * - local ports: every connection of the peak stage goes from this one
 *   source address to the one target address;
 * - memory: each worker's process and connections.
 * A plan that does not fit is refused with what runs out and the fix.
 */
import { readFile } from 'node:fs/promises';
import type { TargetConfig } from '../../functions/config/config-types.js';
import { shardCount } from '../../functions/config/worker-budget.js';
import { MEMORY_PER_CONNECTION_BYTES, type HostBudget } from '../../functions/engine/self-check.js';
import { LAMBDA_DESCRIPTOR_LIMIT } from '../../functions/lambda-sandbox/sandbox.js';

/** Memory one worker process takes before its connections: Node, the bundle, the SDK. */
const PROCESS_BASE_BYTES = 96 * 1024 * 1024;
/** Memory kept for this process, the embedded store and everything else on the machine. */
const MACHINE_HEADROOM_BYTES = 512 * 1024 * 1024;
/** Descriptors this process keeps per child (stdout, stderr, IPC) and for itself (store, endpoint, logs). */
const DESCRIPTORS_PER_CHILD = 4;
const OWN_DESCRIPTORS = 96;
/** Descriptors one worker process holds besides its connections. */
const WORKER_BASE_DESCRIPTORS = 64;
/** Share of the local port range left to everything else. */
const PORT_HEADROOM_FRACTION = 0.05;

/** What the rehearsal of a target asks of this machine. */
export interface RehearsalDemand {
  workers: number;
  shardSize: number;
  /** Connections open at once at the peak stage, across all workers. */
  peakConnections: number;
}

/** What this machine has, as read before the rehearsal. */
export interface MachineBudget {
  host: HostBudget;
  /** This process's hard descriptor limit; null when unlimited or unknown. */
  hardDescriptorLimit: number | null;
  /** Descriptors allocated and the maximum across the machine (fs.file-nr, fs.file-max); null when unknown. */
  machineDescriptors: { allocated: number; max: number } | null;
}

/** One thing that would run out. */
export interface RehearsalProblem {
  resource: 'descriptors' | 'ephemeral-ports' | 'memory';
  summary: string;
  fix: string;
}

/** What the target's plan asks of this machine. */
export function rehearsalDemand(target: TargetConfig): RehearsalDemand {
  const stages = target.plan.stages;
  return {
    workers: shardCount(target.plan),
    shardSize: target.plan.shardSize,
    peakConnections: stages[stages.length - 1] ?? 0,
  };
}

/** Reads the figures the check needs beyond the host budget. */
export async function readMachineBudget(host: HostBudget): Promise<MachineBudget> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const hard = /^Max open files\s+\S+\s+(\d+)/m.exec(limits)?.[1];
  const fileNr = await readFile('/proc/sys/fs/file-nr', 'utf8').catch(() => '');
  const [allocated, , max] = fileNr.trim().split(/\s+/).map(Number);
  return {
    host,
    hardDescriptorLimit: hard === undefined ? null : Number(hard),
    machineDescriptors:
      allocated !== undefined && max !== undefined && Number.isFinite(allocated) && Number.isFinite(max)
        ? { allocated, max }
        : null,
  };
}

/** Every problem the rehearsal of `demand` would meet on this machine (none: it fits). */
export function checkRehearsal(demand: RehearsalDemand, budget: MachineBudget): RehearsalProblem[] {
  const problems: RehearsalProblem[] = [];
  const { workers, shardSize, peakConnections } = demand;
  const fewerWorkers = 'rehearse a staging config with fewer connections (lower plan.stages)';
  if (budget.hardDescriptorLimit !== null && budget.hardDescriptorLimit < LAMBDA_DESCRIPTOR_LIMIT) {
    problems.push({
      resource: 'descriptors',
      summary:
        `Each worker runs with Lambda's ${LAMBDA_DESCRIPTOR_LIMIT} descriptors, but this process may give its ` +
        `children at most ${budget.hardDescriptorLimit} (its hard limit).`,
      fix: `raise the hard descriptor limit to at least ${LAMBDA_DESCRIPTOR_LIMIT} (ulimit -Hn) before rehearsing`,
    });
  }
  const { descriptorLimit, openDescriptors } = budget.host;
  const ownNeed = workers * DESCRIPTORS_PER_CHILD + OWN_DESCRIPTORS;
  if (descriptorLimit !== null && openDescriptors !== null && ownNeed > descriptorLimit - openDescriptors) {
    problems.push({
      resource: 'descriptors',
      summary:
        `${workers} worker processes need about ${ownNeed} descriptors in this process, but its limit of ` +
        `${descriptorLimit} less ${openDescriptors} open leaves ${descriptorLimit - openDescriptors}.`,
      fix: `raise the descriptor limit to at least ${ownNeed + openDescriptors} (ulimit -n)`,
    });
  }
  const machineNeed = workers * (shardSize + WORKER_BASE_DESCRIPTORS);
  if (budget.machineDescriptors && machineNeed > budget.machineDescriptors.max - budget.machineDescriptors.allocated) {
    const left = budget.machineDescriptors.max - budget.machineDescriptors.allocated;
    problems.push({
      resource: 'descriptors',
      summary:
        `${workers} workers of ${shardSize} connections need about ${machineNeed} descriptors across the machine, ` +
        `but only ${left} are left (fs.file-max).`,
      fix: `raise fs.file-max, or ${fewerWorkers}`,
    });
  }
  const ports = budget.host.ephemeralPorts;
  if (ports) {
    const usable = Math.floor((ports.high - ports.low + 1) * (1 - PORT_HEADROOM_FRACTION));
    if (peakConnections > usable) {
      problems.push({
        resource: 'ephemeral-ports',
        summary:
          `The peak stage opens ${peakConnections} connections from this one address to the target, but the local ` +
          `port range ${ports.low}-${ports.high} gives about ${usable}.`,
        fix: `widen net.ipv4.ip_local_port_range, or ${fewerWorkers}`,
      });
    }
  }
  const memoryNeed = workers * (PROCESS_BASE_BYTES + shardSize * MEMORY_PER_CONNECTION_BYTES) + MACHINE_HEADROOM_BYTES;
  if (memoryNeed > budget.host.freeMemoryBytes) {
    problems.push({
      resource: 'memory',
      summary:
        `${workers} worker processes of ${shardSize} connections need about ${mib(memoryNeed)} MiB, but this ` +
        `machine has ${mib(budget.host.freeMemoryBytes)} MiB free.`,
      fix: `free memory, rehearse on a larger machine, or ${fewerWorkers}`,
    });
  }
  return problems;
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
