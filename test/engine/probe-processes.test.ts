// Tests of --processes: parsing (a count or auto, errors naming the flag), resolving the count against the plan's
// shards and this machine's cores, and dealing the shards to the processes in turn.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../functions/engine/errors.js';
import {
  dealShards,
  parseProcesses,
  resolveProcesses,
  shardPeak,
  type ProcessFacts,
} from '../../functions/engine/probe-processes.js';

/** The message of the InvalidInputError `run` throws. */
function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidInputError');
}

const facts: ProcessFacts = { shards: 34, peak: 30_000, shardSize: 900, cores: 2, processesNeeded: 2 };

describe('parseProcesses', () => {
  it('reads a whole number of processes or auto', () => {
    expect(parseProcesses('2')).toEqual({ kind: 'count', count: 2 });
    expect(parseProcesses(' 64 ')).toEqual({ kind: 'count', count: 64 });
    expect(parseProcesses('Auto')).toEqual({ kind: 'auto' });
  });

  it('names the flag and what is allowed', () => {
    for (const text of ['0', '65', 'two', '1.5', '']) {
      expect(errorOf(() => parseProcesses(text))).toBe(
        `--processes: must be a whole number of processes from 1 to 64, or auto, got "${text}"`,
      );
    }
  });
});

describe('resolveProcesses', () => {
  it('takes a count as given while the plan has a shard for each process', () => {
    expect(resolveProcesses({ kind: 'count', count: 1 }, facts)).toBe(1);
    expect(resolveProcesses({ kind: 'count', count: 34 }, facts)).toBe(34);
  });

  it('refuses more processes than shards, with the shard size that would give enough', () => {
    expect(errorOf(() => resolveProcesses({ kind: 'count', count: 2 }, { ...facts, shards: 1, peak: 200 }))).toBe(
      "--processes: 2 processes need at least 2 shards to share, but the plan's 200 connections make 1 shard of at " +
        'most 900 (--shard-size); give --shard-size 100 or less, or fewer processes',
    );
    expect(errorOf(() => resolveProcesses({ kind: 'count', count: 3 }, { ...facts, shards: 1, peak: 2 }))).toMatch(
      /make 1 shard of at most 900 \(--shard-size\); use --processes 2 or fewer$/,
    );
  });

  it('is one process for auto while one carries the plan, else the cores, or more when the plan needs more', () => {
    const auto = { kind: 'auto' } as const;
    expect(resolveProcesses(auto, { ...facts, processesNeeded: 1 })).toBe(1);
    expect(resolveProcesses(auto, { ...facts, processesNeeded: 2, cores: 2 })).toBe(2);
    expect(resolveProcesses(auto, { ...facts, processesNeeded: 2, cores: 8 })).toBe(8);
    expect(resolveProcesses(auto, { ...facts, processesNeeded: 5, cores: 2 })).toBe(5);
    // Never more processes than shards; when no count carries the plan, as many as there are shards.
    expect(resolveProcesses(auto, { ...facts, processesNeeded: 2, cores: 8, shards: 3 })).toBe(3);
    expect(resolveProcesses(auto, { ...facts, processesNeeded: null, shards: 4 })).toBe(4);
  });
});

describe('dealShards', () => {
  it('deals the shards in turn, so the shares differ by a shard at most', () => {
    const shards = [0, 1, 2, 3, 4].map((index) => ({ index }));
    expect(dealShards(shards, 2)).toEqual([
      [{ index: 0 }, { index: 2 }, { index: 4 }],
      [{ index: 1 }, { index: 3 }],
    ]);
    expect(dealShards(shards, 1)).toEqual([shards]);
    expect(dealShards(shards.slice(0, 1), 2)).toEqual([[{ index: 0 }], []]);
  });

  it("counts a shard's connections at the peak", () => {
    expect(shardPeak({ newPerStage: [25, 25, 0, 30] })).toBe(80);
  });
});
