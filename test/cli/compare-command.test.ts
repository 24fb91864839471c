import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareCommand } from '../../bin/cli/compare-command.js';
import { openLocalStore } from '../../bin/cli/local-store.js';
import type { CommandIo } from '../../bin/cli/cli-context.js';
import { findRun } from '../../bin/cli/run-lookup.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { RunResult } from '../../functions/engine/types.js';
import { compareRuns } from '../../functions/report/run-comparison.js';
import { formatChange, formatMs } from '../../functions/report/format.js';
import { temporaryStore } from '../support/cli.js';
import { rerun } from '../fixtures/run-variants.js';
import { loadRecordedRun } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');
const rate = loadRecordedRun('handshake-rate-limit');
const idle = loadRecordedRun('idle-timeout');
/** A later run of the cap's target that found a lower cap. */
const lower = rerun(cap, `${cap.runId.slice(0, 8)}-lower`, '2099-01-01T00:00:00.000Z', {
  ceiling: { value: 40, reached: true },
  dropOnset: 40,
});

/** The cells of a line of a plain table: the words between runs of two or more spaces. */
function cells(line: string): string[] {
  return line.trim().split(/\s{2,}/);
}

/** A signed difference as the comparison prints it. */
function signed(value: number): string {
  return `${value > 0 ? '+' : ''}${value}`;
}

/** Command output collected in memory. */
function captureIo(): { io: CommandIo; stdout: () => string } {
  let stdout = '';
  const sink = (write: (text: string) => void) =>
    ({ write: (chunk: string) => (write(chunk), true) }) as unknown as NodeJS.WriteStream;
  return { io: { stdout: sink((text) => (stdout += text)), stderr: sink(() => undefined) }, stdout: () => stdout };
}

let store: { directory: string; remove: () => Promise<void> };

beforeAll(async () => {
  store = await temporaryStore();
  const local = await openLocalStore(store.directory);
  try {
    for (const run of [cap, rate, idle, lower]) await local.store.putRun(run);
  } finally {
    await local.close();
  }
});

afterAll(() => store.remove());

async function compare(first: string, second: string, flags: { targetId?: string; json?: boolean } = {}) {
  const { io, stdout } = captureIo();
  const code = await compareCommand(first, second, { ...flags, store: store.directory }, io);
  return { code, stdout: stdout() };
}

describe('compareCommand', () => {
  it('prints what changed between two stored runs of one target, directly comparable', async () => {
    const { code, stdout } = await compare('previous', 'latest', { targetId: cap.targetId });
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      `Comparing run ${cap.runId} (${cap.targetId}, ${cap.startedAt.replace('T', ' ').slice(0, 19)} UTC)`,
      `     with run ${lower.runId} (${cap.targetId}, 2099-01-01 00:00:00 UTC)`,
      '',
      '  Same target and settings: the runs are directly comparable.',
      '',
    ]);
    const rows = new Map(
      lines
        .slice(5, 15)
        .filter((line) => line.trim())
        .map((line) => [cells(line)[0], cells(line)]),
    );
    expect(rows.get('first')).toEqual(['first', 'second', 'change']);
    const capCeiling = cap.ceiling.value as number;
    expect(rows.get('verdict')).toEqual(['verdict', 'ok', 'ok']);
    expect(rows.get('ceiling')).toEqual([
      'ceiling',
      String(cap.ceiling.value),
      '40',
      `${signed(40 - capCeiling)} (${formatChange((40 - capCeiling) / capCeiling)})`,
    ]);
    expect(rows.get('drops at')).toEqual([
      'drops at',
      String(cap.dropOnset),
      '40',
      signed(40 - (cap.dropOnset as number)),
    ]);
    expect(rows.get('cause')).toEqual(['cause', 'concurrency-cap', 'concurrency-cap', 'same']);
    expect(rows.get('handshake p95 ms')).toEqual([
      'handshake p95 ms',
      formatMs(cap.handshakeMs.p95),
      formatMs(cap.handshakeMs.p95),
    ]);
    expect(stdout).toContain(`\n  First: Concurrency cap at ${cap.dropOnset}: upgrades failed`);
  });

  it('prints what changed from a stored cap run to a stored rate-limit run, and which settings differ', async () => {
    const { stdout } = await compare(cap.runId, rate.runId);
    const lines = stdout.split('\n');
    expect(lines[3]).toBe('  Not directly comparable: the runs were probed with different settings.');
    const changes = new Map(
      lines
        .slice(4)
        .filter((line) => line.startsWith('    '))
        .map((line) => [cells(line)[0], cells(line)]),
    );
    expect(changes.get('url')).toEqual(['url', cap.url, '→', rate.url]);
    expect(changes.get('--simulate')).toEqual(['--simulate', '(not set)', '→', rate.settings.simulate]);
    expect(changes.get('--stages')).toEqual([
      '--stages',
      cap.settings.stages.join(','),
      '→',
      rate.settings.stages.join(','),
    ]);
    const row = (name: string) => cells(lines.find((line) => line.startsWith(`  ${name} `)) ?? '');
    expect(row('cause')).toEqual(['cause', 'concurrency-cap', 'handshake-rate-limit', 'changed']);
    expect(row('failures')).toEqual([
      'failures',
      String(cap.failures.total),
      String(rate.failures.total),
      signed(rate.failures.total - cap.failures.total),
    ]);
    expect(row('HTTP 429')).toEqual(['HTTP 429', '0', String(rate.failures.total), signed(rate.failures.total)]);
    expect(row('HTTP 503')).toEqual(['HTTP 503', String(cap.failures.total), '0', signed(-cap.failures.total)]);
  });

  it('prints the comparison as JSON with --json, naming runs by id and by the start of an id', async () => {
    const { code, stdout } = await compare(cap.runId, rate.runId.slice(0, 8), { json: true });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(compareRuns(cap, rate));
  });

  it('takes latest and previous over every target without --target-id', async () => {
    const { stdout } = await compare('previous', 'latest', { json: true });
    const [second, first] = [cap, rate, idle, lower].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    expect(JSON.parse(stdout)).toMatchObject({ before: { runId: first?.runId }, after: { runId: second?.runId } });
  });

  it('refuses a --store directory that does not exist, naming the flag and the path', async () => {
    const missing = `${store.directory}-mistyped`;
    const error = await compareCommand('previous', 'latest', { store: missing }, captureIo().io).catch(
      (reason: unknown) => reason,
    );
    expect((error as InvalidInputError).message).toBe(
      `--store: no run store at "${missing}": the directory does not exist (ws-ceiling run creates it; check the path)`,
    );
    await expect(stat(missing)).rejects.toThrow('ENOENT');
  });

  it('refuses a run that is not stored, naming the argument', async () => {
    const error = await compare(cap.runId, 'no-such-run').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(
      `<runB>: no run "no-such-run" among the runs in ${store.directory}: give a run id (or its first 4+ ` +
        'characters), latest or previous; ws-ceiling history lists them',
    );
  });
});

describe('findRun', () => {
  const runs: RunResult[] = [
    rerun(cap, 'abcd-2', '2026-11-23T00:00:00.000Z'),
    rerun(cap, 'abcd-1', '2026-11-22T00:00:00.000Z'),
  ];
  const scope = { targetId: 'demo', store: '.ws-ceiling' };

  it('finds latest, previous, an exact id and a unique start of an id', () => {
    expect(findRun(runs, 'latest', '<runA>', scope).runId).toBe('abcd-2');
    expect(findRun(runs, 'previous', '<runA>', scope).runId).toBe('abcd-1');
    expect(findRun(runs, 'abcd-1', '<runA>', scope).runId).toBe('abcd-1');
    expect(findRun(runs, 'abcd-2'.slice(0, 6), '<runA>', scope).runId).toBe('abcd-2');
  });

  it('refuses a start that matches several runs, or is shorter than 4 characters', () => {
    expect(() => findRun(runs, 'abcd', '<runA>', scope)).toThrow(
      '<runA>: "abcd" is the start of 2 run ids (abcd-2, abcd-1): give more of it',
    );
    expect(() => findRun(runs, 'abc', '<runA>', scope)).toThrow(
      '<runA>: no run "abc" among the runs of target "demo" in .ws-ceiling',
    );
  });

  it('says how many runs previous needs when there is only one', () => {
    expect(() => findRun(runs.slice(0, 1), 'previous', '<runB>', scope)).toThrow(
      '<runB>: "previous" needs at least 2 stored runs, found 1 among the runs of target "demo" in .ws-ceiling',
    );
  });
});
