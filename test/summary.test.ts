import { describe, expect, it } from 'vitest';
import { describeComparison, describeHistory, describeResult, describeStored } from '../bin/cli/summary.js';
import { compareRuns } from '../functions/report/run-comparison.js';
import { recordedRun, rerun, withBaseline } from './support/report-fixtures.js';

const cap = recordedRun('concurrency-cap');

describe('describeResult', () => {
  it('shows the baseline and where the run stands against it when there is one', () => {
    const lines = describeResult(withBaseline(cap, 160, 4)).split('\n');
    expect(lines[4]).toBe('  Baseline:    160 (median of 4 earlier runs): this run is 93.8 % of it; under 144 is a regression');
  });

  it('leaves the baseline line out without a baseline', () => {
    expect(describeResult(cap)).not.toContain('Baseline:');
  });
});

describe('describeHistory', () => {
  it('says when nothing is stored', () => {
    expect(describeHistory([])).toBe('No runs stored yet.');
  });
});

describe('describeComparison', () => {
  it('calls a change against a held plan maximum a bound, and says when no listed setting differs', () => {
    const held = rerun(cap, 'held', '2026-11-23T00:00:00.000Z', { ceiling: { value: 200, reached: false }, configHash: 'other' });
    const text = describeComparison(compareRuns(cap, held));
    expect(text).toContain('  ceiling           150              >= 200           at least +50 (+33.3 %)');
    expect(text).toContain('    (the settings hash differs, but no listed setting does)');
  });

  it('claims no change when both runs held their plan maximum', () => {
    const held = (runId: string, value: number) => rerun(cap, runId, '2026-11-23T00:00:00.000Z', { ceiling: { value, reached: false } });
    expect(describeComparison(compareRuns(held('a', 200), held('b', 300)))).toContain('ceiling           >= 200           >= 300           no limit found in either');
  });
});

describe('describeStored', () => {
  it('names the local store, or none for a deployed run, and the history command to list the run', () => {
    expect(describeStored('written', 'chat', { store: '.ws-ceiling', historyFlags: '' })).toBe('Stored in .ws-ceiling (see: ws-ceiling history --target-id chat)');
    expect(describeStored('duplicate', 'chat', { historyFlags: ' --region eu-west-1' })).toBe(
      'Already stored (see: ws-ceiling history --target-id chat --region eu-west-1)',
    );
  });
});
