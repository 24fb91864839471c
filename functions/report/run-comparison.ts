/**
 * What changed between two runs: ceiling, drop onset, limiting factor,
 * handshake latency, the failure mix, and the settings. Pure: `compare`
 * prints it and `--json` emits it as is. Runs of different targets, or whose
 * config hashes differ (different settings), are not directly comparable;
 * the differing target, URL and settings are listed by the flag that sets them.
 */
import type { LatencyPercentiles, LimitingFactorKind, RunResult, Verdict } from '../engine/types.js';
import { settingsFlags } from './settings-flags.js';

/** One side of a comparison: the run's identity and headline figures. */
export interface ComparedRun {
  runId: string;
  targetId: string;
  startedAt: string;
  verdict: Verdict;
  ceiling: RunResult['ceiling'];
  dropOnset: number | null;
  limitingFactor: { kind: LimitingFactorKind; summary: string } | null;
  handshakeMs: LatencyPercentiles;
}

/** A figure in both runs and how it moved (`difference` is after minus before; null when either is missing). */
export interface FigureChange {
  before: number | null;
  after: number | null;
  difference: number | null;
  /** `difference` as a fraction of `before` (null when `before` is 0 or missing). */
  fraction: number | null;
}

/** A failure count in both runs, by class, HTTP status, close code or connect error code. */
export interface CountChange {
  group: 'class' | 'status' | 'close-code' | 'error-code';
  /** The class, status, close code or error code. */
  key: string;
  before: number;
  after: number;
  difference: number;
}

/** A setting that differs, named by its `run` flag (or `url`, `target`). */
export interface SettingChange {
  setting: string;
  /** The value in the first run, or null when it was not set. */
  before: string | null;
  after: string | null;
}

/** What a ceiling difference is: the change, a lower or upper bound of it, or no bound at all. */
export type CeilingBound = 'exact' | 'at-least' | 'at-most' | 'unknown';

/** What changed from the first run to the second. */
export interface RunComparison {
  before: ComparedRun;
  after: ComparedRun;
  /**
   * True when both runs are of one target with the same config hash (the settings that shape the measurement), as
   * baselines require.
   */
  comparable: boolean;
  /** Settings that differ; empty when comparable. */
  settingChanges: SettingChange[];
  /**
   * The ceiling change. `exact` is false when a side held the plan's maximum
   * (`>= value`), and `bound` says what `difference` then is: when only the
   * second run held its maximum, its true ceiling is higher still, so the
   * change is `at-least` `difference`; when only the first did, the change is
   * `at-most` `difference`; when both did, it is `unknown`. `exact` when
   * neither did; null when either run has no ceiling.
   */
  ceiling: FigureChange & { exact: boolean; bound: CeilingBound | null };
  dropOnset: FigureChange;
  /** True when the kind of limiting factor differs (including one side having none). */
  limitingFactorChanged: boolean;
  handshakeMs: { p50: FigureChange; p95: FigureChange; p99: FigureChange };
  failures: { total: FigureChange; mix: CountChange[] };
}

/** Compares run `before` with run `after` (the order given, whatever their start times). */
export function compareRuns(before: RunResult, after: RunResult): RunComparison {
  const comparable = before.targetId === after.targetId && before.configHash === after.configHash;
  return {
    before: comparedRun(before),
    after: comparedRun(after),
    comparable,
    settingChanges: comparable ? [] : settingChanges(before, after),
    ceiling: {
      ...figureChange(before.ceiling.value, after.ceiling.value),
      exact: before.ceiling.reached && after.ceiling.reached,
      bound: ceilingBound(before.ceiling, after.ceiling),
    },
    dropOnset: figureChange(before.dropOnset, after.dropOnset),
    limitingFactorChanged: (before.limitingFactor?.kind ?? null) !== (after.limitingFactor?.kind ?? null),
    handshakeMs: {
      p50: figureChange(before.handshakeMs.p50, after.handshakeMs.p50),
      p95: figureChange(before.handshakeMs.p95, after.handshakeMs.p95),
      p99: figureChange(before.handshakeMs.p99, after.handshakeMs.p99),
    },
    failures: { total: figureChange(before.failures.total, after.failures.total), mix: failureMix(before, after) },
  };
}

/** Which way a `>= value` ceiling (the plan's maximum held) leaves the change open. */
function ceilingBound(before: RunResult['ceiling'], after: RunResult['ceiling']): CeilingBound | null {
  if (before.value === null || after.value === null) return null;
  if (before.reached && after.reached) return 'exact';
  if (before.reached) return 'at-least';
  return after.reached ? 'at-most' : 'unknown';
}

function comparedRun(run: RunResult): ComparedRun {
  return {
    runId: run.runId,
    targetId: run.targetId,
    startedAt: run.startedAt,
    verdict: run.verdict,
    ceiling: run.ceiling,
    dropOnset: run.dropOnset,
    limitingFactor: run.limitingFactor ? { kind: run.limitingFactor.kind, summary: run.limitingFactor.summary } : null,
    handshakeMs: run.handshakeMs,
  };
}

function figureChange(before: number | null, after: number | null): FigureChange {
  const difference = before === null || after === null ? null : after - before;
  const fraction = difference === null || before === null || before === 0 ? null : difference / before;
  return { before, after, difference, fraction };
}

const MIX_GROUPS = [
  ['class', 'byClass'],
  ['status', 'byStatus'],
  ['close-code', 'byCloseCode'],
  ['error-code', 'byErrorCode'],
] as const;

/** Every class and code seen in either run, in the order they first appear (first run, then second). */
function failureMix(before: RunResult, after: RunResult): CountChange[] {
  return MIX_GROUPS.flatMap(([group, field]) => {
    const a: Record<string, number | undefined> = before.failures[field];
    const b: Record<string, number | undefined> = after.failures[field];
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.map((key) => {
      const countBefore = a[key] ?? 0;
      const countAfter = b[key] ?? 0;
      return { group, key, before: countBefore, after: countAfter, difference: countAfter - countBefore };
    });
  });
}

/**
 * The URL, target and every `run` flag whose value differs; repeatable flags
 * are compared as a list. Two runs of the bundled simulator differ by their
 * `--simulate` spec, not by the free port each was given.
 */
function settingChanges(before: RunResult, after: RunResult): SettingChange[] {
  const changes: SettingChange[] = [];
  const bothSimulated = before.settings.simulate !== undefined && after.settings.simulate !== undefined;
  if (before.url !== after.url && !bothSimulated)
    changes.push({ setting: 'url', before: before.url, after: after.url });
  if (before.targetId !== after.targetId)
    changes.push({ setting: 'target', before: before.targetId, after: after.targetId });
  const a = flagValues(before);
  const b = flagValues(after);
  for (const flag of new Set([...a.keys(), ...b.keys()])) {
    const valueBefore = a.get(flag) ?? null;
    const valueAfter = b.get(flag) ?? null;
    if (valueBefore !== valueAfter) changes.push({ setting: flag, before: valueBefore, after: valueAfter });
  }
  if (before.settings.shards !== after.settings.shards) {
    changes.push({ setting: 'shards', before: String(before.settings.shards), after: String(after.settings.shards) });
  }
  return changes;
}

function flagValues(run: RunResult): Map<string, string> {
  const values = new Map<string, string>();
  for (const { flag, value } of settingsFlags(run.settings)) {
    const earlier = values.get(flag);
    const shown = value === '' ? 'on' : value;
    values.set(flag, earlier === undefined ? shown : `${earlier}; ${shown}`);
  }
  return values;
}
