import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../functions/engine/types.js';
import {
  startTargetSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../functions/simulator/target-simulator.js';
import { runCli, temporaryStore } from '../support/cli.js';

let store: { directory: string; remove: () => Promise<void> };
const simulators: RunningSimulator[] = [];

beforeEach(async () => {
  store = await temporaryStore();
});
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.stop()));
  await store.remove();
});

async function simulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const running = await startTargetSimulator(options);
  simulators.push(running);
  return running;
}

async function probe(url: string, flags: string[]): Promise<{ code: number | null; run: RunResult; stderr: string }> {
  const result = await runCli(['run', url, '--json', '--store', store.directory, '--rate', '200', ...flags]);
  expect(result.stdout.trim().startsWith('{'), result.stderr).toBe(true);
  return { code: result.code, run: JSON.parse(result.stdout) as RunResult, stderr: result.stderr };
}

describe('ws-ceiling run', () => {
  it(
    'finds a cap of 150: ceiling 150, drop onset 150, with the 503 evidence, and closes every connection with ' +
      '1000',
    async () => {
      const target = await simulator({ cap: { limit: 150, response: { kind: 'status', status: 503 } } });
      const { code, run, stderr } = await probe(target.url, ['--stages', '50,100,150,200', '--hold', '1']);
      expect(code).toBe(0);
      expect(stderr).toContain('stage 4/4 → 200 · open 150 · failed handshake-rejected 50 ·');
      expect(run.verdict).toBe('ok');
      expect(run.ceiling).toEqual({ value: 150, reached: true });
      expect(run.dropOnset).toBe(150);
      expect(run.limitingFactor?.kind).toBe('concurrency-cap');
      expect(run.limitingFactor?.evidence.firstFailure).toMatchObject({ openCount: 150, status: 503 });
      expect(run.failures).toEqual({
        total: 50,
        byClass: { 'handshake-rejected': 50 },
        byStatus: { '503': 50 },
        byCloseCode: {},
        byErrorCode: {},
      });
      expect(run.stages.map((stage) => [stage.target, stage.opened, stage.openAtEnd])).toEqual([
        [50, 50, 50],
        [100, 50, 100],
        [150, 50, 150],
        [200, 0, 150],
      ]);
      expect(run.stages[0]?.handshakeMs.p95).toBeGreaterThan(0);
      expect(run).toMatchObject({ targetId: `127.0.0.1-${target.port}`, url: `${target.url}/` });
      expect(Object.keys(run)).toEqual(expect.arrayContaining(['runId', 'startedAt', 'limitingFactor', 'failures']));
      await target.stop();
      expect(target.stats().clientCloseCodes).toEqual({ '1000': 150 });
      expect(target.stats().abnormalClientCloses).toBe(0);
    },
  );

  it('finds a queueing cap from handshakes that connect but are never answered', async () => {
    const target = await simulator({ cap: { limit: 60, response: { kind: 'queue' } } });
    const { code, run } = await probe(target.url, [
      '--stages',
      '20,40,60,80',
      '--hold',
      '1',
      '--handshake-timeout',
      '1',
    ]);
    expect(code).toBe(0);
    expect(run.ceiling).toEqual({ value: 60, reached: true });
    expect(run.dropOnset).toBe(60);
    expect(run.limitingFactor?.kind).toBe('concurrency-cap');
    expect(run.failures.byClass).toEqual({ 'handshake-timeout': 20 });
    expect(run.limitingFactor?.summary).toContain('never answered');
  });

  it('reports an idle timeout with its value, no ceiling, and reaches the maximum with a shorter --ping', async () => {
    const target = await simulator({ idleTimeoutSeconds: 2 });
    const idle = await probe(target.url, ['--stages', '10,20', '--hold', '3', '--ping', 'off']);
    expect(idle.code).toBe(3);
    expect(idle.run.verdict).toBe('inconclusive');
    expect(idle.run.limitingFactor?.kind).toBe('idle-timeout');
    expect(idle.run.limitingFactor?.valueSeconds).toBeGreaterThanOrEqual(1.9);
    expect(idle.run.limitingFactor?.valueSeconds).toBeLessThanOrEqual(2.3);
    expect(idle.run.ceiling.value).toBeNull();
    expect(idle.run.failures.byCloseCode).toEqual({ '1006': 10 });

    const pinged = await probe(target.url, ['--stages', '10,20', '--hold', '3', '--ping', '0.5']);
    expect(pinged.code).toBe(0);
    expect(pinged.run.ceiling).toEqual({ value: 20, reached: false });
    expect(pinged.run.failures.total).toBe(0);
  });

  it('shows a handshake rate limit with its 429s and Retry-After', async () => {
    const target = await simulator({ rateLimit: { perSecond: 20, burst: 20, retryAfterSeconds: 3 } });
    // At 60/s against 20/s the bucket empties in 0.5 s, then 2 s of refusals measure the rate let through.
    const { code, run } = await probe(target.url, ['--stages', '20,140', '--hold', '1', '--rate', '60']);
    expect(code).toBe(0);
    expect(run.ceiling).toEqual({ value: 20, reached: true });
    expect(run.limitingFactor?.kind).toBe('handshake-rate-limit');
    expect(run.limitingFactor?.evidence.retryAfter).toEqual(['3']);
    expect(run.failures.byStatus['429']).toBeGreaterThan(0);
    expect(run.limitingFactor?.evidence.sustainableHandshakesPerSecond).toBeGreaterThanOrEqual(18);
    expect(run.limitingFactor?.evidence.sustainableHandshakesPerSecond).toBeLessThanOrEqual(22);
  });

  it('exits 1 when the ceiling misses the --min-ceiling gate', async () => {
    const target = await simulator({ cap: { limit: 30, response: { kind: 'status', status: 503 } } });
    const { code, run } = await probe(target.url, ['--stages', '10,20,30,40', '--hold', '0.5', '--min-ceiling', '40']);
    expect(code).toBe(1);
    expect(run.verdict).toBe('below-floor');
    expect(run.ceiling.value).toBe(30);
  });

  it('exits 3 at once with a clear message when nothing listens', async () => {
    const target = await simulator({});
    const url = target.url;
    await target.stop();
    const started = Date.now();
    const result = await runCli(['run', url, '--stages', '10,20', '--hold', '30', '--store', store.directory]);
    expect(result.code).toBe(3);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stdout).toContain('FAILED');
    expect(result.stdout).toContain(`Could not reach ${url}/ (ECONNREFUSED`);
  });

  it('exits 3 with a config error on 401, never a ceiling of 0', async () => {
    const target = await simulator({ rejectAll: 401 });
    const { code, run } = await probe(target.url, ['--stages', '10', '--hold', '5']);
    expect(code).toBe(3);
    expect(run.verdict).toBe('failed');
    expect(run.limitingFactor?.kind).toBe('config-error');
    expect(run.ceiling.value).toBeNull();
  });

  it(
    'refuses a plan above the descriptor limit before sending anything: inconclusive, the limit and the fix ' +
      'named, never a ceiling',
    async () => {
      const target = await simulator({});
      const result = await runCli(
        [
          'run',
          target.url,
          '--json',
          '--store',
          store.directory,
          '--stages',
          '100,200,400',
          '--hold',
          '0.5',
          '--rate',
          '400',
        ],
        {
          descriptorLimit: 200,
        },
      );
      const run = JSON.parse(result.stdout) as RunResult;
      expect(result.code).toBe(3);
      expect(run.verdict).toBe('inconclusive');
      expect(run.limitingFactor?.kind).toBe('probe-limited');
      expect(run.verdictReason).toMatch(
        /^The probe would run out of file descriptors: 400 connections need 400 descriptors, but the descriptor limit of 200 \(ulimit -n\) less \d+ already open and 32 headroom leaves \d+\. Fix: raise the descriptor limit to at least \d+ \(ulimit -n \d+\)/,
      );
      expect(run.ceiling.value).toBeNull();
      expect(target.stats().accepted).toBe(0);
      const history = JSON.parse(
        (await runCli(['history', '--json', '--store', store.directory])).stdout,
      ) as RunResult[];
      expect(history).toEqual([]);
    },
  );

  it.runIf(existsSync('/usr/bin/prlimit') || existsSync('/bin/prlimit'))(
    'is inconclusive, naming the descriptors and the fix, when the descriptor limit is lowered while it runs ' +
      '(prlimit), never a ceiling',
    async () => {
      let lowered = 0;
      let timer: NodeJS.Timeout | undefined;
      const result = await runCli(
        [
          'run',
          '--simulate',
          'accept',
          '--stages',
          '50,100,150',
          '--hold',
          '2',
          '--rate',
          '100',
          '--json',
          '--store',
          store.directory,
        ],
        {
          onStart: (child) => {
            child.stderr?.on('data', (chunk: Buffer) => {
              if (timer || !chunk.toString().includes('Plan for')) return;
              // Stage 1 opens 50 in 0.5 s after a 0.25 s start delay, then holds 2 s: lower the limit 1.2 s in, during
              // that hold,
              // to 10 over the descriptors in use (under the 16 kept in reserve), so nothing new can open after it.
              timer = setTimeout(() => {
                lowered = readdirSync(`/proc/${child.pid}/fd`).length + 10;
                execFileSync('prlimit', ['--pid', String(child.pid), `--nofile=${lowered}:${lowered}`]);
              }, 1200);
            });
          },
        },
      );
      clearTimeout(timer);
      expect(lowered).toBeGreaterThan(0);
      expect(result.code, result.stderr).toBe(3);
      const run = JSON.parse(result.stdout) as RunResult;
      expect(run.verdict).toBe('inconclusive');
      expect(run.ceiling.value).toBeNull();
      expect(run.limitingFactor?.kind).toBe('probe-limited');
      expect(run.failures.total).toBe(0);
      expect(run.verdictReason).toMatch(
        new RegExp(
          '^While the run went on, the probe ran short of file descriptors: \\d+ open against a descriptor limit ' +
            `\\(ulimit -n\\) of ${lowered}, changed from \\d+ since the run started, fewer than the 16 it keeps in ` +
            `reserve\\. So this run cannot say where the target's limit is\\. Fix: raise the descriptor limit to ` +
            'at least \\d+ \\(ulimit -n \\d+\\) before starting the probe and keep it there for the whole run',
        ),
      );
      const history = JSON.parse(
        (await runCli(['history', '--json', '--store', store.directory])).stdout,
      ) as RunResult[];
      expect(history.map((stored) => [stored.verdict, stored.limitingFactor?.kind])).toEqual([
        ['inconclusive', 'probe-limited'],
      ]);
    },
  );

  it('stops on Ctrl-C, closes every connection with 1000 and records the run as inconclusive', async () => {
    const target = await simulator({});
    const result = await runCli(
      ['run', target.url, '--json', '--store', store.directory, '--stages', '10,20', '--hold', '60'],
      {
        // Ctrl-C once the run has started (the plan is printed), however long the CLI took to load.
        onStart: (child) => child.stderr?.once('data', () => setTimeout(() => child.kill('SIGINT'), 1000)),
      },
    );
    const run = JSON.parse(result.stdout) as RunResult;
    expect(result.code).toBe(3);
    expect(run.verdict).toBe('inconclusive');
    expect(run.verdictReason).toContain('stopped');
    await target.stop();
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 10 });
  });

  it('never prints or stores header values, URL credentials or query values', async () => {
    const target = await simulator({});
    const port = new URL(target.url).port;
    const url = `ws://agent:pw-sekrit-1@127.0.0.1:${port}/socket?token=sekrit-2&room=blue`;
    const result = await runCli([
      'run',
      url,
      '--store',
      store.directory,
      '--stages',
      '5',
      '--hold',
      '0.2',
      '--header',
      'Authorization: Bearer sekrit-3',
    ]);
    const history = await runCli(['history', '--json', '--store', store.directory]);
    expect(`${result.stdout}${result.stderr}${history.stdout}`).not.toContain('sekrit');
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
    expect(history.stdout).toContain('"headerNames": [\n');
    expect(history.stdout).toContain('token=redacted');
    for (const file of await filesUnder(store.directory))
      expect(await readFile(file, 'latin1')).not.toContain('sekrit');
  });

  it.each([
    [['ws://127.0.0.1:9/', '--hold', 'soon'], '--hold: must be a number of seconds'],
    [['ws://127.0.0.1:9/', '--stages', '100,50'], '--stages: must be rising whole numbers'],
    [['ws://127.0.0.1:9/', '--bogus'], "unknown option '--bogus'"],
    [['ws://127.0.0.1:9/', '--max', '5000'], '--max-connections: the plan goes up to 5000 connections'],
    [['--simulate', 'cap=many'], '--simulate: cap must be a whole number'],
    [['http://127.0.0.1:9/'], 'url: must use ws:// or wss://'],
  ])('exits 2 on %j naming the flag', async (args, message) => {
    const result = await runCli(['run', '--store', store.directory, ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('exits 2 when neither a URL nor --simulate is given', async () => {
    const result = await runCli(['run', '--store', store.directory]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('url: give a ws:// or wss:// URL, or --simulate');
  });
});

describe('ws-ceiling history', () => {
  it('lists stored runs newest first, per target or for all', async () => {
    const target = await simulator({});
    await runCli(['run', '--simulate', 'cap=5', '--stages', '5,10', '--hold', '0.3', '--store', store.directory]);
    await runCli([
      'run',
      target.url,
      '--target-id',
      'chat-eu',
      '--stages',
      '5',
      '--hold',
      '0.3',
      '--store',
      store.directory,
    ]);
    const all = JSON.parse((await runCli(['history', '--json', '--store', store.directory])).stdout) as RunResult[];
    expect(all.map((run) => run.targetId)).toEqual(['chat-eu', 'simulator']);
    const one = await runCli(['history', '--target-id', 'simulator', '--store', store.directory]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('simulator');
    expect(one.stdout).toContain('concurrency-cap');
    expect(one.stdout).not.toContain('chat-eu');
  });
});

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}
