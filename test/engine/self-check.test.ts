import { describe, expect, it } from 'vitest';
import {
  checkProbeBudget,
  checkRunningBudget,
  describeSelfCheckProblems,
  MEMORY_PER_CONNECTION_BYTES,
  probeLimitFix,
  type HostBudget,
  type ProbeDemand,
} from '../../functions/engine/self-check.js';

const GIB = 1024 ** 3;
const roomy: HostBudget = {
  descriptorLimit: 20_000,
  openDescriptors: 40,
  ephemeralPorts: { low: 32768, high: 60999 },
  freeMemoryBytes: 16 * GIB,
  heapAvailableBytes: 4 * GIB,
};
const demand = (connections: number, overrides: Partial<ProbeDemand> = {}): ProbeDemand => ({
  connectionsPerProcess: connections,
  costPerConnection: 1,
  connectionsPerTargetAddress: connections,
  shardsShareProcess: true,
  ...overrides,
});

describe('checkProbeBudget', () => {
  it('passes a plan that fits every budget', () => {
    expect(checkProbeBudget(demand(2000), roomy)).toEqual({ ok: true, problems: [], unchecked: [] });
  });

  it(
    'refuses a plan above the descriptor limit less open descriptors and headroom, and names ulimit -n as the ' + 'fix',
    () => {
      const check = checkProbeBudget(demand(400), { ...roomy, descriptorLimit: 200, openDescriptors: 38 });
      expect(check.ok).toBe(false);
      expect(check.problems).toEqual([
        expect.objectContaining({ resource: 'descriptors', needed: 400, available: 200 - 38 - 32 }),
      ]);
      expect(check.problems[0]?.summary).toContain(
        'the descriptor limit of 200 (ulimit -n) less 38 already open and 32 headroom leaves 130',
      );
      expect(check.problems[0]?.fix).toContain('ulimit -n 495');
      expect(describeSelfCheckProblems(check)).toMatch(
        /^The probe would run out of file descriptors: .* Fix: raise the descriptor limit/,
      );
    },
  );

  it('counts two descriptors per connection when the simulator runs in the same process', () => {
    const check = checkProbeBudget(demand(100, { costPerConnection: 2 }), {
      ...roomy,
      descriptorLimit: 200,
      openDescriptors: 38,
    });
    expect(check.problems[0]).toMatchObject({ resource: 'descriptors', needed: 200 });
    expect(check.problems[0]?.summary).toContain('2 each: the simulator runs in this process too');
  });

  it('tells a Lambda worker, whose shard has a process of its own, to lower shardSize in the config', () => {
    // A Lambda's 1,024 descriptors less 5 % headroom (52) carry the default shard of 900 while at most 72 are open.
    const check = checkProbeBudget(demand(900, { shardsShareProcess: false }), {
      ...roomy,
      descriptorLimit: 1024,
      openDescriptors: 100,
    });
    expect(check.problems[0]?.fix).toBe(
      'lower the shard size (shardSize in the config) so more shards share the load (at most 872 connections fit ' +
        'one worker)',
    );
    expect(
      checkProbeBudget(demand(900, { shardsShareProcess: false }), {
        ...roomy,
        descriptorLimit: 1024,
        openDescriptors: 72,
      }).ok,
    ).toBe(true);
  });

  it('tells the local CLI, whose shards share one process, that more shards do not help', () => {
    const check = checkProbeBudget(demand(400), { ...roomy, descriptorLimit: 200, openDescriptors: 38 });
    expect(check.problems[0]?.fix).toBe(
      'raise the descriptor limit to at least 495 (ulimit -n 495) before starting the probe and keep it there ' +
        'for the whole run; every shard runs in this one process, so more shards (--shard-size) do not help here',
    );
  });

  it(
    'refuses more connections to one address than the ephemeral port range gives, and names the source addresses ' +
      'that would carry them as the fix',
    () => {
      const check = checkProbeBudget(demand(1500), { ...roomy, ephemeralPorts: { low: 60000, high: 60999 } });
      expect(check.problems).toEqual([
        expect.objectContaining({ resource: 'ephemeral-ports', needed: 1500, available: 950 }),
      ]);
      expect(check.problems[0]?.fix).toBe(
        'spread the connections over 2 source addresses or more (--source-address A,B,…) or over machines, or ' +
          'widen net.ipv4.ip_local_port_range; every shard here takes its ports from this one host',
      );
    },
  );

  it('counts the ports of each source address apart: two addresses carry twice the connections to one address', () => {
    const ports = { ...roomy, ephemeralPorts: { low: 60000, high: 60999 } };
    expect(checkProbeBudget({ ...demand(1500), sourceAddresses: 2 }, ports)).toMatchObject({ ok: true });
    const three = checkProbeBudget({ ...demand(3000), sourceAddresses: 3 }, ports);
    expect(three.problems).toEqual([
      expect.objectContaining({ resource: 'ephemeral-ports', needed: 1000, available: 950 }),
    ]);
    expect(three.problems[0]?.summary).toBe(
      'The probe would run out of local ports: 3000 connections to one target address take 1000 ephemeral ports ' +
        'from each of 3 source addresses, but the range 60000–60999 gives 1000, 950 after headroom.',
    );
    expect(three.problems[0]?.fix).toContain('spread the connections over 4 source addresses or more');
  });

  it('refuses a plan the free memory or the V8 heap cannot carry', () => {
    const check = checkProbeBudget(demand(10_000), {
      ...roomy,
      freeMemoryBytes: 512 * 1024 ** 2,
      heapAvailableBytes: 100 * 1024 ** 2,
    });
    expect(check.problems.map((problem) => problem.resource)).toEqual(['memory', 'heap']);
    expect(check.problems[0]?.needed).toBe(10_000 * MEMORY_PER_CONNECTION_BYTES);
    expect(check.problems[1]?.fix).toContain('--max-old-space-size=');
  });

  it('keeps the headroom its host asks for: a small one in a Lambda sandbox, 256 MiB on a shared machine', () => {
    const sandbox = { ...roomy, freeMemoryBytes: 150 * 1024 ** 2 };
    const shard = demand(900, { shardsShareProcess: false });
    expect(checkProbeBudget(shard, sandbox).problems.map((problem) => problem.resource)).toEqual(['memory']);
    expect(checkProbeBudget(shard, { ...sandbox, memoryHeadroomBytes: 32 * 1024 ** 2 }).ok).toBe(true);
  });

  it('lists what it could not read instead of guessing', () => {
    const check = checkProbeBudget(demand(100_000 / 20), {
      ...roomy,
      descriptorLimit: null,
      openDescriptors: null,
      ephemeralPorts: null,
    });
    expect(check).toEqual({ ok: true, problems: [], unchecked: ['descriptors', 'ephemeral-ports'] });
  });
});

describe('checkRunningBudget', () => {
  const atStart: HostBudget = { ...roomy, descriptorLimit: 1000, openDescriptors: 40 };

  it('passes a sample with half the headroom left or more: a plan may fill all but the headroom', () => {
    expect(checkRunningBudget(demand(500), atStart, { ...atStart, openDescriptors: 975 })).toEqual([]);
  });

  it('finds fewer descriptors left than half the headroom, naming a limit lowered since the run started', () => {
    const problems = checkRunningBudget(demand(500), atStart, {
      ...atStart,
      descriptorLimit: 300,
      openDescriptors: 290,
    });
    expect(problems).toEqual([expect.objectContaining({ resource: 'descriptors', needed: 16, available: 10 })]);
    expect(problems[0]?.summary).toBe(
      'While the run went on, the probe ran short of file descriptors: 290 open against a descriptor limit ' +
        '(ulimit -n) of 300, changed from 1000 since the run started, fewer than the 16 it keeps in reserve.',
    );
    expect(problems[0]?.fix).toBe(
      probeLimitFix('descriptors', true, { descriptorLimit: 603, connectionsThatFit: 910 }),
    );
  });

  it('finds no descriptor left when even reading them failed for want of one', () => {
    const problems = checkRunningBudget(demand(500), atStart, {
      ...atStart,
      descriptorLimit: null,
      openDescriptors: null,
      descriptorsExhausted: true,
    });
    expect(problems.map((problem) => problem.summary)).toEqual([
      'While the run went on, the probe ran out of file descriptors: it had none left to read /proc/self/fd with ' +
        '(EMFILE).',
    ]);
  });

  it('finds free memory or V8 heap under half their headroom', () => {
    const problems = checkRunningBudget(demand(500), atStart, {
      ...atStart,
      freeMemoryBytes: 100 * 1024 ** 2,
      heapAvailableBytes: 10 * 1024 ** 2,
    });
    expect(problems.map((problem) => problem.resource)).toEqual(['memory', 'heap']);
  });
});

describe('probeLimitFix', () => {
  it('gives a Lambda worker one fix for every resource: a smaller shard size', () => {
    for (const resource of ['descriptors', 'ephemeral-ports', 'memory', 'heap', 'event-loop'] as const) {
      expect(probeLimitFix(resource, false)).toBe(
        'lower the shard size (shardSize in the config) so more shards share the load',
      );
    }
  });

  it('never tells the local CLI to use more shards', () => {
    for (const resource of ['descriptors', 'memory', 'heap', 'event-loop'] as const) {
      expect(probeLimitFix(resource, true)).toContain('so more shards (--shard-size) do not help here');
    }
  });
});
