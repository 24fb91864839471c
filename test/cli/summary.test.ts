import { describe, expect, it } from 'vitest';
import {
  describeComparison,
  describeHistory,
  describeNoRunsOf,
  describeResult,
  describeStored,
} from '../../bin/cli/summary.js';
import { formatBaseline } from '../../functions/report/format.js';
import { compareRuns } from '../../functions/report/run-comparison.js';
import { rerun, withBaseline } from '../fixtures/run-variants.js';
import { loadRecordedRun, SCENARIOS } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');
const held = loadRecordedRun('held');

/** The cells of a line of a plain table: the words between runs of two or more spaces. */
function cells(line: string | undefined): string[] {
  return (line ?? '').trim().split(/\s{2,}/);
}

/** The `ceiling` row of a comparison. */
function ceilingRow(text: string): string[] {
  return cells(text.split('\n').find((line) => line.startsWith('  ceiling ')));
}

describe('describeResult', () => {
  it('shows the baseline and where the run stands against it when there is one', () => {
    const judged = withBaseline(cap, 160, 4);
    const lines = describeResult(judged).split('\n');
    expect(lines[4]).toBe(`  Baseline:    ${formatBaseline(judged.baseline!)}`);
  });

  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'leaves the baseline line out of the recorded %s run, which has none, and names its cause',
    (name) => {
      const run = loadRecordedRun(name);
      const text = describeResult(run);
      expect(text).not.toContain('Baseline:');
      expect(text).toContain(`  Cause:       ${run.limitingFactor?.kind ?? 'none: nothing failed'}`);
    },
  );
});

describe('describeHistory', () => {
  it('says when nothing is stored', () => {
    expect(describeHistory([])).toBe('No runs stored yet.');
  });
});

describe('describeNoRunsOf', () => {
  it('says the target has no runs and names the targets that have some', () => {
    expect(describeNoRunsOf('nosuch', ['chat-sim', 'idle-sim'])).toBe(
      'No runs of target "nosuch" are stored. Stored targets: chat-sim, idle-sim.',
    );
    expect(describeNoRunsOf('nosuch', [])).toBe(
      'No runs of target "nosuch" are stored. No runs of any target are stored yet.',
    );
  });
});

describe('describeComparison', () => {
  it('gives a change towards a run that held its plan maximum as a lower bound: at least', () => {
    const text = describeComparison(compareRuns(cap, held));
    const difference = (held.ceiling.value as number) - (cap.ceiling.value as number);
    const percent = Math.round((difference / (cap.ceiling.value as number)) * 1000) / 10;
    expect(ceilingRow(text)).toEqual([
      'ceiling',
      String(cap.ceiling.value),
      `>= ${held.ceiling.value}`,
      `at least ${difference} (${percent} %)`,
    ]);
  });

  it('gives a change away from a run that held its plan maximum as an upper bound: at most', () => {
    const text = describeComparison(compareRuns(held, cap));
    const difference = (cap.ceiling.value as number) - (held.ceiling.value as number);
    const percent = Math.round((difference / (held.ceiling.value as number)) * 1000) / 10;
    expect(ceilingRow(text)).toEqual([
      'ceiling',
      `>= ${held.ceiling.value}`,
      String(cap.ceiling.value),
      `at most +${difference} (+${percent} %)`,
    ]);
    const lower = rerun(held, 'lower', '2099-01-01T00:00:00.000Z', {
      ceiling: { value: (held.ceiling.value as number) / 2, reached: true },
    });
    expect(ceilingRow(describeComparison(compareRuns(held, lower))).at(-1)).toBe(
      `at most -${(held.ceiling.value as number) / 2} (-50 %)`,
    );
  });

  it('claims no change when both runs held their plan maximum, and says when no listed setting differs', () => {
    const higher = rerun(held, 'higher', '2099-01-01T00:00:00.000Z', {
      ceiling: { value: 300, reached: false },
      configHash: 'other',
    });
    const text = describeComparison(compareRuns(held, higher));
    expect(ceilingRow(text)).toEqual(['ceiling', `>= ${held.ceiling.value}`, '>= 300', 'no limit found in either']);
    expect(text).toContain('    (the settings hash differs, but no listed setting does)');
  });
});

describe('describeStored', () => {
  it('names the local store, or none for a deployed run, and the history command to list the run', () => {
    expect(describeStored('written', 'chat', { store: '.ws-ceiling', historyFlags: '' })).toBe(
      'Stored in .ws-ceiling (see: ws-ceiling history --target-id chat)',
    );
    expect(describeStored('duplicate', 'chat', { historyFlags: ' --region eu-west-1' })).toBe(
      'Already stored (see: ws-ceiling history --target-id chat --region eu-west-1)',
    );
  });
});
