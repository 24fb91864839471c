import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../functions/engine/types.js';
import { compareRuns } from '../../functions/report/run-comparison.js';
import { rerun } from '../fixtures/run-variants.js';
import { loadRecordedRun, SCENARIOS } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');
const rate = loadRecordedRun('handshake-rate-limit');
const held = loadRecordedRun('held');

/** `after − before` and its fraction of `before`, as the comparison gives a figure. */
function change(before: number | null, after: number | null) {
  const difference = before === null || after === null ? null : after - before;
  return {
    before,
    after,
    difference,
    fraction: difference === null || !before ? null : difference / before,
  };
}

describe('compareRuns', () => {
  it('shows the ceiling, onset, cause, latency and failure mix moving from a cap run to a rate-limit run', () => {
    const comparison = compareRuns(cap, rate);
    expect(comparison.before).toMatchObject({ runId: cap.runId, verdict: cap.verdict, ceiling: cap.ceiling });
    expect(comparison.after).toMatchObject({ runId: rate.runId, limitingFactor: { kind: 'handshake-rate-limit' } });
    expect(comparison.ceiling).toEqual({
      ...change(cap.ceiling.value, rate.ceiling.value),
      exact: true,
      bound: 'exact',
    });
    expect(comparison.dropOnset).toEqual(change(cap.dropOnset, rate.dropOnset));
    expect(comparison.limitingFactorChanged).toBe(true);
    expect(comparison.handshakeMs.p99).toMatchObject({ before: cap.handshakeMs.p99, after: rate.handshakeMs.p99 });
    expect(comparison.failures.total).toEqual(change(cap.failures.total, rate.failures.total));
    expect(comparison.failures.mix).toEqual([
      {
        group: 'class',
        key: 'handshake-rejected',
        before: cap.failures.total,
        after: rate.failures.total,
        difference: rate.failures.total - cap.failures.total,
      },
      { group: 'status', key: '503', before: cap.failures.total, after: 0, difference: -cap.failures.total },
      { group: 'status', key: '429', before: 0, after: rate.failures.total, difference: rate.failures.total },
    ]);
  });

  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'finds nothing changed between the recorded %s run and a rerun of it',
    (name) => {
      const run = loadRecordedRun(name);
      const comparison = compareRuns(run, rerun(run, 'again', '2099-01-01T00:00:00.000Z'));
      expect(comparison.comparable).toBe(true);
      expect(comparison.settingChanges).toEqual([]);
      expect(comparison.limitingFactorChanged).toBe(false);
      expect(comparison.ceiling.difference).toBe(run.ceiling.value === null ? null : 0);
      expect(comparison.failures.mix.every((count) => count.difference === 0)).toBe(true);
    },
  );

  it.each(SCENARIOS.filter((scenario) => scenario.name !== 'concurrency-cap').map((scenario) => scenario.name))(
    'tells the recorded %s run from the cap run by its cause and failure mix',
    (name) => {
      const run = loadRecordedRun(name);
      const comparison = compareRuns(cap, run);
      expect(comparison.limitingFactorChanged).toBe((run.limitingFactor?.kind ?? null) !== 'concurrency-cap');
      const classes = new Set([...Object.keys(cap.failures.byClass), ...Object.keys(run.failures.byClass)]);
      expect(comparison.failures.mix.filter((count) => count.group === 'class').map((count) => count.key)).toEqual([
        ...classes,
      ]);
    },
  );

  it('lists the settings in which runs differ by the flag that sets them, the simulator spec among them', () => {
    const changes = new Map(compareRuns(cap, rate).settingChanges.map((entry) => [entry.setting, entry]));
    expect(changes.get('url')).toEqual({ setting: 'url', before: cap.url, after: rate.url });
    expect(changes.get('target')).toEqual({ setting: 'target', before: cap.targetId, after: rate.targetId });
    expect(changes.get('--simulate')).toEqual({ setting: '--simulate', before: null, after: rate.settings.simulate });
    expect(changes.get('--stages')).toEqual({
      setting: '--stages',
      before: cap.settings.stages.join(','),
      after: rate.settings.stages.join(','),
    });
    expect(changes.get('--header')).toEqual({ setting: '--header', before: 'Authorization: <value>', after: null });
    expect(changes.get('--subprotocol')).toEqual({
      setting: '--subprotocol',
      before: cap.settings.subprotocols.join('; '),
      after: null,
    });
    expect(changes.get('--min-ceiling')).toEqual({
      setting: '--min-ceiling',
      before: String(cap.settings.minCeiling),
      after: String(rate.settings.minCeiling),
    });
  });

  it('names no URL change between two runs of the bundled simulator, whose ports differ every time', () => {
    const idle = loadRecordedRun('idle-timeout');
    expect(idle.url).not.toBe(held.url);
    const settings = compareRuns(idle, held).settingChanges.map((entry) => entry.setting);
    expect(settings).not.toContain('url');
    expect(settings).toContain('--simulate');
  });

  it(
    'bounds the ceiling change from above when the first run held its plan maximum, and from below when the ' +
      'second did',
    () => {
      expect(held.ceiling.reached).toBe(false);
      const fromHeld = compareRuns(held, cap).ceiling;
      expect(fromHeld).toMatchObject({
        difference: (cap.ceiling.value as number) - (held.ceiling.value as number),
        exact: false,
        bound: 'at-most',
      });
      expect(compareRuns(cap, held).ceiling).toMatchObject({ exact: false, bound: 'at-least' });
      const alsoHeld = rerun(held, 'held-again', '2099-01-01T00:00:00.000Z', {
        ceiling: { value: 300, reached: false },
      });
      expect(compareRuns(held, alsoHeld).ceiling).toMatchObject({ exact: false, bound: 'unknown' });
    },
  );

  it('has no ceiling change when either run measured none', () => {
    const none = compareRuns(cap, loadRecordedRun('idle-timeout')).ceiling;
    expect(none).toEqual({
      before: cap.ceiling.value,
      after: null,
      difference: null,
      fraction: null,
      exact: false,
      bound: null,
    });
  });

  it('keeps the order given, whatever the start times', () => {
    const older: RunResult = rerun(cap, 'older', '2000-01-01T00:00:00.000Z');
    expect(compareRuns(cap, older).after.runId).toBe('older');
  });
});
