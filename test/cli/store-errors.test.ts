// A store that cannot be read or written never crashes a command or loses a run: a corrupt store is named with
// the fix (exit 3) before anything is sent, a --store that cannot be a store exits 2, and a run the store fails to
// write is printed and saved as JSON beside the store (exit 3). Against real stores, corrupted on disk.
import { open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../bin/cli/local-store.js';
import type { RunResult } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { rerun } from '../fixtures/run-variants.js';
import { loadRecordedRun } from '../fixtures/simulator-runs.js';
import { runCli, temporaryStore } from '../support/cli.js';

let parent: { directory: string; remove: () => Promise<void> };
let store: string;
let target: RunningSimulator;
beforeEach(async () => {
  parent = await temporaryStore();
  store = path.join(parent.directory, 'store');
  target = await startTargetSimulator({});
});
afterEach(async () => {
  await target.stop();
  await parent.remove();
});

/**
 * A store holding `count` runs of target `simulator`, compacted into one LevelDB table file, whose path is returned:
 * its first blocks hold the runs, its last the table description.
 */
async function storeWithRuns(count: number): Promise<string> {
  const local = await openLocalStore(store);
  const cap = loadRecordedRun('concurrency-cap');
  for (let i = 0; i < count; i += 1) {
    const startedAt = new Date(Date.UTC(2026, 10, 1, i)).toISOString();
    await local.store.putRun(rerun(cap, `run-${i}`, startedAt, { targetId: 'simulator' }));
  }
  await local.close();
  // On Node, Level is classic-level, which compacts; level's own types are those of every platform.
  const data = new Level(path.join(store, 'dynamodb')) as Level & {
    compactRange(from: string, to: string): Promise<void>;
  };
  await data.open();
  await data.compactRange('\x00', '\xff');
  await data.close();
  const tables = (await readdir(path.join(store, 'dynamodb'))).filter((name) => name.endsWith('.ldb'));
  expect(tables).toHaveLength(1);
  return path.join(store, 'dynamodb', tables[0]!);
}

/** Flips bits in the first `length` bytes of `file`, in place (open readers see the change). */
async function corrupt(file: string, length: number): Promise<void> {
  const handle = await open(file, 'r+');
  const bytes = Buffer.alloc(length);
  await handle.read(bytes, 0, length, 0);
  for (let i = 50; i < length; i += 37) bytes[i]! ^= 0x55;
  await handle.write(bytes, 0, length, 0);
  await handle.close();
}

describe('a store that cannot be read', () => {
  it('is named with its path and the fix, exit 3, by history, report and run, and run sends nothing', async () => {
    const table = await storeWithRuns(3);
    await corrupt(table, 1500);
    for (const args of [['history'], ['report', 'latest'], ['run', target.url, '--stages', '2', '--hold', '0.2']]) {
      const result = await runCli([...args, '--store', store]);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toMatch(
        new RegExp(`^error: the store at ${store} cannot be read: Corruption: .*\\. Fix: move it aside \\(mv `),
      );
      expect(result.stderr).not.toContain('    at ');
    }
    expect(target.stats().accepted).toBe(0);
  });
});

describe('a --store that cannot be a store', () => {
  it.each([
    ['', '--store: must name a directory, got an empty string'],
    ['FILE', 'is a file; give a directory for the store'],
    ['FILE/sub', 'is a file, not a directory; give a directory for the store'],
    ['/proc/self/store', 'is under /proc, a virtual filesystem that cannot hold a store'],
  ])('exits 2 at once for %j, naming the flag', async (given, message) => {
    const file = path.join(parent.directory, 'file');
    await writeFile(file, 'not a store');
    const started = Date.now();
    const result = await runCli(['run', target.url, '--stages', '2', '--store', given.replace('FILE', file)], {
      timeoutMs: 10_000,
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(message);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(target.stats().accepted).toBe(0);
  });
});

describe('a store that fails to write the run', () => {
  it('prints the run and saves it as JSON beside the store, saying where, exit 3', async () => {
    const table = await storeWithRuns(8);
    const { size } = await stat(table);
    let corrupted: Promise<void> | undefined;
    const result = await runCli(['run', target.url, '--stages', '3', '--hold', '1', '--json', '--store', store], {
      onStart: (child) =>
        // Once the plan is printed the store has been opened and read: spoil its runs before the run is recorded.
        child.stderr?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('Plan for')) corrupted ??= corrupt(table, size - 1024);
        }),
    });
    await corrupted;
    expect(result.code, result.stderr).toBe(3);
    const run = JSON.parse(result.stdout) as RunResult;
    expect(run).toMatchObject({ verdict: 'ok', ceiling: { value: 3, reached: false } });
    const saved = path.join(parent.directory, `ws-ceiling-run-${run.runId}.json`);
    expect(result.stderr).toContain(
      `error: The run could not be stored in ${store} (Corruption: corrupted compressed block contents). The run ` +
        `is saved to ${saved} instead.`,
    );
    expect(JSON.parse(await readFile(saved, 'utf8'))).toEqual(run);
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 3 });
  });
});
