import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareCommand } from '../bin/cli/compare-command.js';
import { openLocalStore } from '../bin/cli/local-store.js';
import type { CommandIo } from '../bin/cli/run-command.js';
import { findRun } from '../bin/cli/run-lookup.js';
import { InvalidInputError } from '../functions/engine/errors.js';
import type { RunResult } from '../functions/engine/types.js';
import { compareRuns } from '../functions/report/run-comparison.js';
import { temporaryStore } from './support/cli.js';
import { recordedRun, rerun } from './support/report-fixtures.js';

const cap = recordedRun('concurrency-cap');
const rate = recordedRun('handshake-rate-limit');
const idle = recordedRun('idle-timeout');

/** Command output collected in memory. */
function captureIo(): { io: CommandIo; stdout: () => string } {
  let stdout = '';
  const sink = (write: (text: string) => void) => ({ write: (chunk: string) => (write(chunk), true) }) as unknown as NodeJS.WriteStream;
  return { io: { stdout: sink((text) => (stdout += text)), stderr: sink(() => undefined) }, stdout: () => stdout };
}

let store: { directory: string; remove: () => Promise<void> };

beforeAll(async () => {
  store = await temporaryStore();
  const local = await openLocalStore(store.directory);
  try {
    for (const run of [cap, rate, idle]) await local.store.putRun(run);
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
  it('prints what changed from a stored cap run to a stored rate-limit run', async () => {
    const { code, stdout } = await compare('previous', 'latest', { targetId: 'demo' });
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'Comparing run ff259185-14fc-47ba-8596-5b8264eff2a3 (demo, 2026-11-22 02:21:42 UTC)',
        '     with run e0bc51ae-76fe-44a5-b65d-50a0fff02957 (demo, 2026-11-22 02:22:07 UTC)',
        '',
        '  Not directly comparable: the runs were probed with different settings.',
        '    url       ws://127.0.0.1:36279/  →  ws://127.0.0.1:45211/',
        '    --stages  50,100,150,200         →  20,60,100',
        '',
        '                    first            second                change',
        '  verdict           ok               ok',
        '  ceiling           150              20                    -130 (-86.7 %)',
        '  drops at          150              44                    -106',
        '  cause             concurrency-cap  handshake-rate-limit  changed',
        '  handshake p50 ms  1.7              1.9                   +0.2',
        '  handshake p95 ms  6.0              6.6                   +0.6',
        '  handshake p99 ms  10.4             14.9                  +4.5',
        '  failures          50               13                    -37',
        '',
        '  First: Concurrency cap at 150: upgrades failed (50 × HTTP 503) once 150',
        '  connections were open, and none opened after the first refusal.',
        '  Second: Handshake rate limit: upgrades were refused (13 × HTTP 429,',
        '  Retry-After 1) while connections kept opening at about 20.8 per second; the',
        '  open count rose from 44 to 47 after the first refusal, so the limit is on the',
        '  rate, not the count. Ramp more slowly (--rate) to pass it.',
        '',
        '  failure mix         first  second  change',
        '  handshake-rejected  50     13      -37',
        '  HTTP 503            50     0       -50',
        '  HTTP 429            0      13      +13',
        '',
      ].join('\n'),
    );
  });

  it('prints the comparison as JSON with --json, naming runs by id and by the start of an id', async () => {
    const { code, stdout } = await compare(cap.runId, 'e0bc51ae', { json: true });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(compareRuns(cap, rate));
  });

  it('takes latest and previous over every target without --target-id', async () => {
    const { stdout } = await compare('previous', 'latest', { json: true });
    expect(JSON.parse(stdout)).toMatchObject({ before: { runId: rate.runId }, after: { runId: idle.runId } });
  });

  it('refuses a run that is not stored, naming the argument', async () => {
    const error = await compare(cap.runId, 'no-such-run').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(
      `<runB>: no run "no-such-run" among the runs in ${store.directory}: give a run id (or its first 4+ characters), latest or previous; ws-ceiling history lists them`,
    );
  });
});

describe('findRun', () => {
  const runs: RunResult[] = [rerun(cap, 'abcd-2', '2026-11-23T00:00:00.000Z'), rerun(cap, 'abcd-1', '2026-11-22T00:00:00.000Z')];
  const scope = { targetId: 'demo', store: '.ws-ceiling' };

  it('finds latest, previous, an exact id and a unique start of an id', () => {
    expect(findRun(runs, 'latest', '<runA>', scope).runId).toBe('abcd-2');
    expect(findRun(runs, 'previous', '<runA>', scope).runId).toBe('abcd-1');
    expect(findRun(runs, 'abcd-1', '<runA>', scope).runId).toBe('abcd-1');
    expect(findRun(runs, 'abcd-2'.slice(0, 6), '<runA>', scope).runId).toBe('abcd-2');
  });

  it('refuses a start that matches several runs, or is shorter than 4 characters', () => {
    expect(() => findRun(runs, 'abcd', '<runA>', scope)).toThrow('<runA>: "abcd" is the start of 2 run ids (abcd-2, abcd-1): give more of it');
    expect(() => findRun(runs, 'abc', '<runA>', scope)).toThrow('<runA>: no run "abc" among the runs of target "demo" in .ws-ceiling');
  });

  it('says how many runs previous needs when there is only one', () => {
    expect(() => findRun(runs.slice(0, 1), 'previous', '<runB>', scope)).toThrow(
      '<runB>: "previous" needs at least 2 stored runs, found 1 among the runs of target "demo" in .ws-ceiling',
    );
  });
});
