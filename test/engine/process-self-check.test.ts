// Tests of the self-check across probe processes: descriptors per process, ports per pair of source and target
// address, memory across the machine, this process's own descriptors and the machine's; each refusal says what runs
// out and how many processes, source addresses or connections would fit.
import { describe, expect, it } from 'vitest';
import { planRun } from '../../functions/engine/plan.js';
import {
  checkProcesses,
  fewestProcesses,
  probeProcessCapacity,
  probeProcessDescriptorLimit,
  probeProcessMemoryMb,
  processPeaks,
  type ProcessesBudget,
  type ProcessesDemand,
} from '../../functions/engine/process-self-check.js';
import { shardPeak } from '../../functions/engine/probe-processes.js';
import { rampSettings } from '../support/diagnose-ramp.js';

const GIB = 1024 * 1024 * 1024;

/** Connections per shard at the peak of a plan up to `peak` with the default shard size (900). */
function shardPeaksOf(peak: number): number[] {
  const settings = rampSettings('ws://127.0.0.1:1/', { stages: [peak / 2, peak], maxConnections: 100_000 });
  return planRun(settings, { now: () => 0, newRunId: () => 'run', startDelayMs: 0 }).shards.map(shardPeak);
}

/** The test machine: hard and soft limit 20,000, the default port range, 20 GiB free. */
const budget: ProcessesBudget = {
  host: {
    descriptorLimit: 20_000,
    openDescriptors: 30,
    ephemeralPorts: { low: 32_768, high: 60_999 },
    freeMemoryBytes: 20 * GIB,
    heapAvailableBytes: 4 * GIB,
  },
  hardDescriptorLimit: 20_000,
  machineDescriptors: { allocated: 2_000, max: 1_000_000 },
};

/** 30,000 connections over two processes and two source addresses, the target outside this process. */
const demand: ProcessesDemand = {
  processes: 2,
  shardPeaks: shardPeaksOf(30_000),
  sourceAddresses: 2,
  simulatorHere: false,
};

describe('checkProcesses', () => {
  it('passes 30,000 connections over 2 processes of 20,000 descriptors and 2 source addresses', () => {
    expect(demand.shardPeaks).toHaveLength(34);
    expect(processPeaks(demand.shardPeaks, 2)).toEqual([15_000, 15_000]);
    expect(checkProcesses(demand, budget)).toEqual({ ok: true, problems: [], unchecked: [] });
  });

  it('refuses a process that would run out of descriptors, with the fewest processes that fit', () => {
    const check = checkProcesses({ ...demand, processes: 1 }, budget);
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      {
        resource: 'descriptors',
        scope: 'probe-process',
        needed: 30_000,
        available: 18_960,
        summary:
          'A probe process would run out of file descriptors: with one probe process one holds 30000 connections, ' +
          'but each gets 20000 descriptors (the hard limit, ulimit -Hn), which leaves 18960 for connections after ' +
          'what it opens itself and the headroom.',
        fix:
          'run with --processes 2 or more, or raise the hard descriptor limit to at least 31622 (ulimit -Hn, as ' +
          'root or in limits.conf)',
        fits: { processes: 2 },
      },
    ]);
    expect(probeProcessCapacity(31_622)).toBeGreaterThanOrEqual(30_000);
    expect(probeProcessCapacity(31_621)).toBeLessThan(30_000);
  });

  it('refuses too many connections to the target from one source address, with the addresses that fit', () => {
    const check = checkProcesses({ ...demand, sourceAddresses: 1 }, budget);
    expect(check.problems).toEqual([
      {
        resource: 'ephemeral-ports',
        scope: 'address-pair',
        needed: 30_000,
        available: 26_820,
        summary:
          'The probe would run out of local ports: the peak of 30000 connections to one target address, from one ' +
          'source address, takes 30000 ports of it, but the range 32768–60999 gives 26820 after headroom.',
        fix:
          'spread the connections over 2 source addresses or more (--source-address A,B,…), or widen ' +
          'net.ipv4.ip_local_port_range; more processes do not help, as they share the source addresses',
        fits: { sourceAddresses: 2 },
      },
    ]);
  });

  it('refuses a plan larger than the memory left, with the connections that fit', () => {
    const check = checkProcesses(demand, { ...budget, host: { ...budget.host, freeMemoryBytes: GIB } });
    expect(check.problems.map((problem) => [problem.resource, problem.scope, problem.fits])).toEqual([
      ['memory', 'machine', { connections: 18_432 }],
    ]);
    expect(check.problems[0]?.summary).toBe(
      'The probe would run short of memory: 2 probe processes holding 30000 connections need about 1130 MiB, but ' +
        'only 768 MiB is free after the headroom.',
    );
    expect(check.problems[0]?.fix).toBe(
      'probe with at most 18432 connections on this machine (--stages), or from a larger one; more processes or ' +
        'source addresses do not help',
    );
  });

  it("counts the simulator's side of every connection in this process, and in the machine's memory", () => {
    const check = checkProcesses({ ...demand, simulatorHere: true }, budget);
    expect(check.problems).toEqual([
      {
        resource: 'descriptors',
        scope: 'this-process',
        needed: 30_008,
        available: 18_970,
        summary:
          "This process would run out of file descriptors: it holds the simulator's side of 30000 connections and " +
          'pipes to 2 probe processes, 30008 descriptors, but its limit of 20000 (ulimit -n) less 30 open and the ' +
          'headroom leaves 18970.',
        fix:
          'raise the descriptor limit to at least 31619 (ulimit -n), or probe a target that runs outside this ' +
          'process',
      },
    ]);
    const small = checkProcesses(
      { ...demand, simulatorHere: true },
      {
        ...budget,
        host: { ...budget.host, freeMemoryBytes: 2 * GIB },
      },
    );
    expect(small.problems.find((problem) => problem.resource === 'memory')?.fits).toEqual({ connections: 25_600 });
  });

  it('refuses a plan the machine has too few descriptors left for (fs.file-max)', () => {
    const check = checkProcesses(demand, { ...budget, machineDescriptors: { allocated: 990_000, max: 1_000_000 } });
    expect(check.problems.map((problem) => [problem.scope, problem.needed, problem.available])).toEqual([
      ['machine', 30_080, 10_000],
    ]);
    expect(check.problems[0]?.fix).toBe(
      'raise fs.file-max (sysctl -w fs.file-max=…), or probe with fewer connections (--stages)',
    );
  });

  it('says which shard size fits when even one shard is too large for a process', () => {
    const tight = { ...budget, hardDescriptorLimit: 600, host: { ...budget.host, descriptorLimit: 600 } };
    const check = checkProcesses({ ...demand, processes: 34 }, tight);
    expect(check.problems[0]?.fix).toBe(
      'lower --shard-size to 528 or less, so that one shard fits a process, or raise the hard descriptor limit to ' +
        'at least 972 (ulimit -Hn, as root or in limits.conf)',
    );
    expect(fewestProcesses(demand.shardPeaks, 528)).toBeNull();
    expect(fewestProcesses(demand.shardPeaks, 18_960)).toBe(2);
  });

  it('leaves unchecked what it cannot read; probe processes get the soft limit when the hard one is unknown', () => {
    const unknown = {
      host: { ...budget.host, descriptorLimit: null, openDescriptors: null, ephemeralPorts: null },
      hardDescriptorLimit: null,
      machineDescriptors: null,
    };
    expect(checkProcesses(demand, unknown)).toEqual({
      ok: true,
      problems: [],
      unchecked: ['descriptors', 'ephemeral-ports'],
    });
    const soft = { ...budget, hardDescriptorLimit: null, host: { ...budget.host, descriptorLimit: 10_000 } };
    expect(checkProcesses(demand, soft).problems[0]).toMatchObject({
      scope: 'probe-process',
      summary: expect.stringContaining('each gets 10000 descriptors (the limit, ulimit -n)') as unknown,
      fits: { processes: 4 },
    });
  });
});

describe('what a probe process is given', () => {
  it("gets this process's hard descriptor limit, or its soft limit when the hard one is unknown", () => {
    expect(probeProcessDescriptorLimit(budget)).toBe(20_000);
    expect(probeProcessDescriptorLimit({ ...budget, hardDescriptorLimit: null })).toBe(20_000);
    expect(probeProcessDescriptorLimit({ ...budget, hardDescriptorLimit: 65_536 })).toBe(65_536);
  });

  it('gets a memory size for its start, its connections at 32 KiB each, and its headroom', () => {
    expect(probeProcessMemoryMb(0)).toBe(128);
    expect(probeProcessMemoryMb(15_000)).toBe(597);
  });
});
