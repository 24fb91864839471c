/**
 * The benchmark's connection budget with `--source-address` (bench/options.ts): the ephemeral ports toward the
 * server are counted per source address, so two addresses carry a run one address cannot, and the budget of several
 * processes is then bounded by their descriptors. Pure: a fixed reading of the host.
 */
import { describe, expect, it } from 'vitest';
import { connectionBudget, parseBenchArgs } from '../../bench/options.js';
import type { HostBudget } from '../../functions/engine/self-check.js';

const GIB = 1024 * 1024 * 1024;
/** This machine's figures: 20,000 descriptors, 20 open, the range 32768–60999 (28,232 ports). */
const host: HostBudget = {
  descriptorLimit: 20_000,
  openDescriptors: 20,
  ephemeralPorts: { low: 32_768, high: 60_999 },
  freeMemoryBytes: 16 * GIB,
  heapAvailableBytes: 4 * GIB,
};
const budgetOf = (processes: number, addresses: number) => connectionBudget(host, processes, addresses);

describe('the benchmark budget with --source-address', () => {
  it('counts the ports per source address: two processes are bound by ports from one, by descriptors from two', () => {
    expect(connectionBudget(host, 2, 1)).toEqual({
      limitTarget: 26_820,
      bound: 'ephemeral ports',
      limit: 28_232,
      processes: 2,
      sourceAddresses: 1,
    });
    const two = connectionBudget(host, 2, 2);
    expect(two).toMatchObject({ bound: 'descriptors', limit: 20_000, processes: 2, sourceAddresses: 2 });
    expect(two.limitTarget).toBe(2 * connectionBudget(host, 1, 1).limitTarget);
  });

  it('refuses 30,000 connections from one address naming the ports, and takes them from two', () => {
    expect(() => parseBenchArgs(['--processes', '2', '--connections', '30000'], budgetOf)).toThrow(
      '--connections: must be a whole number from 1 to 26820 (what the 28232 ephemeral ports allows after the ' +
        'self-check\'s headroom), got "30000"',
    );
    const request = parseBenchArgs(
      ['--processes', '2', '--connections', '30000', '--source-address', '127.0.0.1,127.0.0.2'],
      budgetOf,
    );
    expect(request.kind === 'run' && request.options).toMatchObject({
      connections: 30_000,
      sourceAddresses: [
        { address: '127.0.0.1', family: 4 },
        { address: '127.0.0.2', family: 4 },
      ],
    });
  });

  it('names --source-address when an entry is not an IP address', () => {
    expect(() => parseBenchArgs(['--source-address', '127.0.0.1,localhost'], budgetOf)).toThrow(
      '--source-address: must be IP addresses separated by commas, e.g. 10.0.0.5,10.0.0.6; got "localhost"',
    );
  });
});
