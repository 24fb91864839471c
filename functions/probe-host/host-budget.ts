/**
 * Reads what the probe's own machine can give a run, before it starts and
 * while it runs: the process's file-descriptor limit and the descriptors open
 * now, the ephemeral port range (each connection to one target address takes
 * one local port), free memory and the V8 heap left. The self-check
 * (functions/engine/self-check.ts) judges a plan, and each sample taken
 * during the run, against these figures. Ports in use are not read: /proc
 * counts them only host-wide, where other programs and the in-process
 * simulator's own sockets would blur them; running out of them shows as
 * EADDRNOTAVAIL, which is `probe-limited` anyway.
 */
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { probeResourceOf } from '../engine/classify.js';
import type { HostBudget } from '../engine/self-check.js';

/** Where the reader looks; tests point `procRoot` at a folder of fixture files. */
export interface HostBudgetSources {
  /** Root of the proc filesystem (default `/proc`). */
  procRoot?: string;
  /** Free memory in bytes (default `os.freemem`). */
  freeMemory?: () => number;
  /** Memory to keep free beyond the connections (default: the self-check's headroom for a shared machine). */
  memoryHeadroomBytes?: number;
  /** V8 heap limit and use in bytes (default from `v8.getHeapStatistics`). */
  heap?: () => { limitBytes: number; usedBytes: number };
}

/**
 * Reads the budget of this process and host. Never throws: a figure that
 * cannot be read is null, and a read that failed for want of a descriptor
 * sets `descriptorsExhausted`.
 */
export async function readHostBudget(sources: HostBudgetSources = {}): Promise<HostBudget> {
  const procRoot = sources.procRoot ?? '/proc';
  const heap = (sources.heap ?? defaultHeap)();
  const [limits, descriptors, portRange] = await Promise.all([
    attempt(() => readFile(path.join(procRoot, 'self', 'limits'), 'utf8')),
    attempt(() => readdir(path.join(procRoot, 'self', 'fd'))),
    attempt(() => readFile(path.join(procRoot, 'sys', 'net', 'ipv4', 'ip_local_port_range'), 'utf8')),
  ]);
  const exhausted = [limits, descriptors, portRange].some((read) => read.outOfDescriptors);
  return {
    descriptorLimit: limits.value === null ? null : parseDescriptorLimit(limits.value),
    // Listing the folder opens one descriptor of its own, which is closed again.
    openDescriptors: descriptors.value === null ? null : Math.max(0, descriptors.value.length - 1),
    ephemeralPorts: portRange.value === null ? null : parsePortRange(portRange.value),
    freeMemoryBytes: (sources.freeMemory ?? os.freemem)(),
    heapAvailableBytes: Math.max(0, heap.limitBytes - heap.usedBytes),
    ...(sources.memoryHeadroomBytes !== undefined ? { memoryHeadroomBytes: sources.memoryHeadroomBytes } : {}),
    ...(exhausted ? { descriptorsExhausted: true } : {}),
  };
}

/** Memory a Lambda worker keeps free beyond its connections: its sandbox runs nothing but the probe. */
export const LAMBDA_MEMORY_HEADROOM_BYTES = 32 * 1024 * 1024;

/**
 * Sources for a Lambda sandbox of `memoryLimitMb` (the function's memory
 * size): the OS's free memory there says little about what the function may
 * still use, so it is the sandbox's size less this process's resident set,
 * with a headroom for a sandbox that runs nothing else.
 */
export function lambdaBudgetSources(
  memoryLimitMb: number,
  residentBytes: () => number = () => process.memoryUsage().rss,
): HostBudgetSources {
  return {
    freeMemory: () => Math.max(0, memoryLimitMb * 1024 * 1024 - residentBytes()),
    memoryHeadroomBytes: LAMBDA_MEMORY_HEADROOM_BYTES,
  };
}

/** The soft limit of the `Max open files` line of a /proc/<pid>/limits text; null when unlimited or absent. */
export function parseDescriptorLimit(limitsText: string): number | null {
  const line = limitsText.split('\n').find((candidate) => candidate.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : null;
}

/** The `low high` pair of net.ipv4.ip_local_port_range; null when it does not parse. */
export function parsePortRange(text: string): { low: number; high: number } | null {
  const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!match) return null;
  const low = Number(match[1]);
  const high = Number(match[2]);
  return low <= high ? { low, high } : null;
}

function defaultHeap(): { limitBytes: number; usedBytes: number } {
  const stats = v8.getHeapStatistics();
  return { limitBytes: stats.heap_size_limit, usedBytes: stats.used_heap_size };
}

/** A read's value, or null with whether it failed for want of a descriptor. */
async function attempt<T>(read: () => Promise<T>): Promise<{ value: T | null; outOfDescriptors: boolean }> {
  try {
    return { value: await read(), outOfDescriptors: false };
  } catch (error) {
    // EMFILE or ENFILE: the process (or the host) has no descriptor left to open.
    return { value: null, outOfDescriptors: probeResourceOf((error as NodeJS.ErrnoException).code) === 'descriptors' };
  }
}
