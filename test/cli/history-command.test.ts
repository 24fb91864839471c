import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { historyCommand } from '../../bin/cli/history-command.js';
import { openLocalStore } from '../../bin/cli/local-store.js';
import type { CommandIo } from '../../bin/cli/cli-context.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { RunResult } from '../../functions/engine/types.js';
import { temporaryStore } from '../support/cli.js';
import { rerun, withBaseline } from '../fixtures/run-variants.js';
import { loadRecordedRun } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');
const idle = loadRecordedRun('idle-timeout');
const held = loadRecordedRun('held');

/**
 * Five runs of target `demo` made from the recorded cap run (the newest with
 * a baseline and regressed, one that held its plan maximum) and one of
 * `idle`: the table's layout is what is tested, so the ids, times and
 * ceilings are set here.
 */
const RUNS: RunResult[] = [
  withBaseline(
    rerun(cap, 'run-5', '2026-11-26T10:00:00.000Z', {
      targetId: 'demo',
      ceiling: { value: 100, reached: true },
      dropOnset: 100,
      verdict: 'regressed',
    }),
    150,
    4,
  ),
  withBaseline(
    rerun(cap, 'run-4', '2026-11-25T10:00:00.000Z', {
      targetId: 'demo',
      ceiling: { value: 150, reached: true },
      dropOnset: 150,
    }),
    150,
    3,
  ),
  rerun(idle, 'run-idle', '2026-11-24T12:00:00.000Z', { targetId: 'idle', dropOnset: 10 }),
  rerun(held, 'run-3', '2026-11-24T10:00:00.000Z', {
    targetId: 'demo',
    configHash: cap.configHash,
    ceiling: { value: 200, reached: false },
  }),
  rerun(cap, 'run-2', '2026-11-23T10:00:00.000Z', {
    targetId: 'demo',
    ceiling: { value: 140, reached: true },
    dropOnset: 140,
  }),
  rerun(cap, 'run-1', '2026-11-22T10:00:00.000Z', {
    targetId: 'demo',
    ceiling: { value: 150, reached: true },
    dropOnset: 150,
  }),
];

const stores: Array<{ remove: () => Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.remove()));
});

/** A temporary store holding `runs`. */
async function storeWith(runs: readonly RunResult[]): Promise<string> {
  const store = await temporaryStore();
  stores.push(store);
  const local = await openLocalStore(store.directory);
  try {
    for (const run of runs) await local.store.putRun(run);
  } finally {
    await local.close();
  }
  return store.directory;
}

async function history(flags: { store: string; targetId?: string; json?: boolean; limit?: number }): Promise<string> {
  return (await historyOutput(flags)).stdout;
}

async function historyOutput(flags: {
  store: string;
  targetId?: string;
  json?: boolean;
  limit?: number;
}): Promise<{ stdout: string }> {
  let stdout = '';
  const sink = (write: (text: string) => void) =>
    ({ write: (chunk: string) => (write(chunk), true) }) as unknown as NodeJS.WriteStream;
  const io: CommandIo = { stdout: sink((text) => (stdout += text)), stderr: sink(() => undefined) };
  expect(await historyCommand({ limit: 20, ...flags }, io)).toBe(0);
  return { stdout };
}

describe('historyCommand', () => {
  it('shows the ceiling trend per run with baseline, ratio, change, a bar and the verdict, newest first', async () => {
    const store = await storeWith(RUNS);
    expect(await history({ store })).toBe(
      [
        'started (UTC)        target  verdict       ceiling  baseline  ratio   change   ceiling trend          ' +
          'drops at  cause            run id',
        '2026-11-26 10:00:00  demo    regressed     100      150       66.7 %  -33.3 %  ██████████    |        ' +
          '100       concurrency-cap  run-5',
        '2026-11-25 10:00:00  demo    ok            150      150       100 %   +7.1 %   ██████████████|        ' +
          '150       concurrency-cap  run-4',
        '2026-11-24 12:00:00  idle    inconclusive  –        –         –       –        –                      ' +
          '10        idle-timeout     run-idle',
        '2026-11-24 10:00:00  demo    ok            >= 200   –         –       –        ████████████████████+  – ' +
          '        –                run-3',
        '2026-11-23 10:00:00  demo    ok            140      –         –       -6.7 %   ██████████████         ' +
          '140       concurrency-cap  run-2',
        '2026-11-22 10:00:00  demo    ok            150      –         –       –        ███████████████        ' +
          '150       concurrency-cap  run-1',
        '',
        'ceiling trend: █ the ceiling on one scale per target, | its baseline, + the',
        "plan's maximum held (no limit found). change: against the previous run with",
        'the same settings.',
        '',
      ].join('\n'),
    );
  });

  it('draws one target on its own scale with --target-id, measuring change only within the runs listed', async () => {
    const store = await storeWith(RUNS);
    const lines = (await history({ store, targetId: 'demo', limit: 2 })).split('\n');
    expect(lines.slice(1, 3)).toEqual([
      '2026-11-26 10:00:00  demo    regressed  100      150       66.7 %  -33.3 %  █████████████      |  100     ' +
        '  concurrency-cap  run-5',
      '2026-11-25 10:00:00  demo    ok         150      150       100 %   –        ███████████████████|  150     ' +
        '  concurrency-cap  run-4',
    ]);
  });

  it('says a --target-id with no runs has none, and names the targets stored', async () => {
    const store = await storeWith(RUNS);
    expect(await history({ store, targetId: 'nosuch' })).toBe(
      'No runs of target "nosuch" are stored. Stored targets: demo, idle.\n',
    );
  });

  it('refuses a --store directory that does not exist or holds no store, and creates nothing', async () => {
    const store = await temporaryStore();
    stores.push(store);
    const missing = path.join(store.directory, 'mistyped');
    const error = await historyOutput({ store: missing }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(
      `--store: no run store at "${missing}": the directory does not exist (ws-ceiling run creates it; check the path)`,
    );
    await expect(historyOutput({ store: store.directory })).rejects.toThrow(
      `--store: no run store at "${store.directory}": the directory holds no ws-ceiling runs`,
    );
    expect(await readdir(store.directory)).toEqual([]);
  });

  it('keeps --json as the stored runs', async () => {
    const store = await storeWith(RUNS.slice(0, 2));
    expect(JSON.parse(await history({ store, json: true }))).toEqual(RUNS.slice(0, 2));
  });
});
