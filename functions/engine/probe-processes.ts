/**
 * How a local run spreads over probe processes (`--processes N|auto`): the
 * flag parsed, the count resolved against the plan and this machine, and the
 * plan's shards dealt to the processes. Each probe process runs whole shards
 * and holds their connections with a descriptor budget of its own; `auto`
 * stays in one process while that carries the plan, and otherwise takes
 * every core (or more processes, when the plan needs more). Pure: the cores
 * and what one process carries are handed in (see process-self-check.ts).
 */
import { InvalidInputError } from './errors.js';
import type { ShardPlan } from './types.js';

/** Most probe processes one run may use. */
const MAX_PROBE_PROCESSES = 64;

/** What `--processes` asks for. */
export type ProcessesChoice = { kind: 'auto' } | { kind: 'count'; count: number };

/** Parses `--processes`: a whole number from 1 to {@link MAX_PROBE_PROCESSES}, or `auto`. */
export function parseProcesses(text: string, field = '--processes'): ProcessesChoice {
  const value = text.trim().toLowerCase();
  if (value === 'auto') return { kind: 'auto' };
  const count = Number(value);
  if (!/^\d+$/.test(value) || count < 1 || count > MAX_PROBE_PROCESSES) {
    throw new InvalidInputError(
      field,
      `must be a whole number of processes from 1 to ${MAX_PROBE_PROCESSES}, or auto, got "${text}"`,
    );
  }
  return { kind: 'count', count };
}

/** What the count of processes is resolved against. */
export interface ProcessFacts {
  /** Shards of the plan: a process runs whole shards, so there are never more processes than shards. */
  shards: number;
  /** The plan's largest stage and the shard size, for the fix when there are too few shards. */
  peak: number;
  shardSize: number;
  /** Cores of this machine. */
  cores: number;
  /**
   * Fewest probe processes whose descriptors carry the plan: 1 when this process alone carries it, null when no count
   * does (a shard is larger than a process's budget).
   */
  processesNeeded: number | null;
}

/**
 * The number of probe processes a run uses. A count is taken as given, but
 * never more than the shards; `auto` is 1 when one process carries the plan,
 * else the cores, or the fewest that carry it when that is more (at most one
 * per shard). Throws InvalidInputError naming `field` when a count has too few
 * shards to share, with the shard size that would give enough.
 */
export function resolveProcesses(choice: ProcessesChoice, facts: ProcessFacts, field = '--processes'): number {
  if (choice.kind === 'count') {
    if (choice.count > facts.shards) throw tooFewShards(choice.count, facts, field);
    return choice.count;
  }
  if (facts.processesNeeded === 1) return 1;
  const wanted = Math.max(facts.cores, facts.processesNeeded ?? facts.shards);
  return Math.max(1, Math.min(wanted, facts.shards));
}

function tooFewShards(count: number, facts: ProcessFacts, field: string): InvalidInputError {
  const { peak, shards, shardSize } = facts;
  const made = `the plan's ${peak} connections make ${shards} shard${shards === 1 ? '' : 's'} of at most ${shardSize}`;
  const shareable = Math.floor(peak / count);
  const fix =
    shareable >= 1
      ? `give --shard-size ${shareable} or less, or fewer processes`
      : `use --processes ${Math.max(1, peak)} or fewer`;
  return new InvalidInputError(
    field,
    `${count} processes need at least ${count} shards to share, but ${made} (--shard-size); ${fix}`,
  );
}

/** The shards of each process: shard `i` goes to process `i mod processes`, so shares differ by a shard at most. */
export function dealShards<T extends Pick<ShardPlan, 'index'>>(shards: readonly T[], processes: number): T[][] {
  const dealt = Array.from({ length: processes }, (): T[] => []);
  for (const shard of shards) dealt[shard.index % processes]?.push(shard);
  return dealt;
}

/** Connections a shard holds at the plan's peak: its share of the largest stage. */
export function shardPeak(shard: Pick<ShardPlan, 'newPerStage'>): number {
  return shard.newPerStage.reduce((total, added) => total + added, 0);
}
