import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Diagnosis } from '../../functions/diagnose/findings.js';
import type { RunResult } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
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

describe('ws-ceiling diagnose', () => {
  it('records the ramp like run, then ends with one sentence per finding and exits 0', async () => {
    const result = await runCli([
      'diagnose',
      '--simulate',
      'cap=20',
      '--stages',
      '10,30',
      '--hold',
      '0.3',
      '--rate',
      '200',
      '--store',
      store.directory,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Run ');
    expect(result.stdout).toContain('Cause:       concurrency-cap');
    expect(result.stdout).toContain('Diagnosis of simulator');
    expect(result.stdout.trimEnd().split('\n').slice(-2)).toEqual([
      'Concurrency cap at 20 (HTTP 503 from the 21st upgrade, at every connect rate tried: 200, 100 and 50 ' +
        'connections/s).',
      'Exact ceiling of 20 connections (20 held for the whole hold and 21 did not, to 1 connection; settled from ' +
        "the ramp's own failing stage, no extra probe-seconds).",
    ]);
    expect(result.stderr).toContain('rate or count: 30 connections at 50/s: 20 opened, 10 refused');
    const history = JSON.parse((await runCli(['history', '--json', '--store', store.directory])).stdout) as RunResult[];
    expect(history.map((run) => [run.targetId, run.limitingFactor?.kind])).toEqual([['simulator', 'concurrency-cap']]);
  });

  it(
    'measures a handshake rate limit with --max-connections equal to the largest stage, within 10 %, and ' +
      'advises a rate under it',
    async () => {
      const args = [
        'diagnose',
        '--simulate',
        'rate=20,burst=30',
        '--stages',
        '30,100',
        '--hold',
        '2',
        '--rate',
        '60',
        '--max-connections',
        '100',
        '--store',
        store.directory,
      ];
      const result = await runCli(args);
      expect(result.code, result.stderr).toBe(0);
      const [last = '', behind = ''] = result.stdout.trimEnd().split('\n').slice(-2);
      const [, perSecond, burst, advised] =
        /^Handshake rate limit of ([\d.]+) handshakes\/s with a burst of (\d+) \(HTTP 429 with Retry-After 1; refusals vanished at 30\/s\); ramp at ([\d.]+)\/s or slower/.exec(
          last,
        ) ?? [];
      expect(Math.abs(Number(perSecond) / 20 - 1), last).toBeLessThanOrEqual(0.1);
      expect(Math.abs(Number(burst) / 30 - 1), last).toBeLessThanOrEqual(0.1);
      expect(Number(advised)).toBeLessThan(Number(perSecond));
      expect(behind).toBe(
        `Behind the rate limit, ramped at ${advised}/s: no other limit up to 100 connections (every upgrade opened); ` +
          'raise --max or --stages to look further.',
      );
    },
  );

  // A later failing stage gives the ramp its own below-floor verdict, which the gate keeps (see gate.test.ts).
  it('exits 1 under --min-ceiling 15 with a cap of 5 when the first stage fails: the gate judges it', async () => {
    const args = ['diagnose', '--simulate', 'cap=5', '--stages', '10,20', '--hold', '0.3', '--rate', '200'];
    const result = await runCli([...args, '--min-ceiling', '15', '--json', '--store', store.directory]);
    expect(result.code, result.stderr).toBe(1);
    const diagnosis = JSON.parse(result.stdout) as Diagnosis;
    expect(diagnosis.gate?.verdict).toBe('below-floor');
    expect(diagnosis.gate?.reason).toBe(
      "Ceiling 5 is under the required minimum 15: not even the ramp's first stage held, and the diagnosis settled 5.",
    );
  });

  it('prints the diagnosis as one JSON object with --json, with the recorded run in it', async () => {
    const target = await startTargetSimulator({});
    simulators.push(target);
    const result = await runCli([
      'diagnose',
      target.url,
      '--json',
      '--stages',
      '5,10',
      '--hold',
      '0.2',
      '--rate',
      '200',
      '--store',
      store.directory,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const diagnosis = JSON.parse(result.stdout) as Diagnosis;
    expect(diagnosis).toMatchObject({
      verdict: 'no-limit-found',
      targetId: `127.0.0.1-${target.port}`,
      seconds: { experiments: 0, waits: 0 },
      selfCheck: { ok: true, problems: [] },
      run: { verdict: 'ok', ceiling: { value: 10, reached: false } },
    });
    expect(diagnosis.findings).toEqual([
      {
        kind: 'no-limit',
        values: { max: 10 },
        experiment: 'ramp',
        evidence: {},
        probeSeconds: 0,
        sentence: 'No limit found (every stage held up to 10 connections); raise --max or --stages to look further.',
      },
    ]);
  });

  it('is inconclusive under a descriptor limit the plan does not fit, names the fix, and sends nothing', async () => {
    const target = await startTargetSimulator({});
    simulators.push(target);
    const result = await runCli(
      ['diagnose', target.url, '--stages', '100,200,400', '--hold', '0.5', '--store', store.directory],
      { descriptorLimit: 200 },
    );
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('INCONCLUSIVE (self-check; nothing was sent)');
    expect(result.stdout).toContain('the descriptor limit of 200 (ulimit -n)');
    expect(result.stdout).toContain('Fix: raise the descriptor limit to at least');
    expect(result.stdout).not.toContain('Ceiling');
    expect(target.stats().accepted).toBe(0);
  });

  it('prints the diagnosis shape with --json when the self-check refuses: the self-check filled, no run', async () => {
    const target = await startTargetSimulator({});
    simulators.push(target);
    const result = await runCli(
      ['diagnose', target.url, '--json', '--stages', '100,200,400', '--hold', '0.5', '--store', store.directory],
      { descriptorLimit: 200 },
    );
    expect(result.code).toBe(3);
    const diagnosis = JSON.parse(result.stdout) as Diagnosis;
    expect(Object.keys(diagnosis)).toEqual([
      'verdict',
      'reason',
      'gate',
      'runId',
      'targetId',
      'url',
      'findings',
      'seconds',
      'selfCheck',
      'run',
    ]);
    expect(diagnosis).toMatchObject({
      verdict: 'inconclusive',
      runId: null,
      run: null,
      seconds: { ramp: 0, experiments: 0, waits: 0 },
      selfCheck: { ok: false },
    });
    expect(diagnosis.selfCheck.problems.map((problem) => problem.resource)).toEqual(['descriptors']);
    expect(diagnosis.findings.map((finding) => [finding.kind, finding.experiment])).toEqual([
      ['probe-limited', 'self-check'],
    ]);
    expect(diagnosis.reason).toContain('the descriptor limit of 200 (ulimit -n)');
    expect(target.stats().accepted).toBe(0);
  });

  it.each([
    [['--resolution', '0'], '--resolution: must be a whole number of connections from 1 to 10000, got "0"'],
    [['--experiment-budget', 'long'], '--experiment-budget: must be a number of seconds from 1 to 86400, got "long"'],
    [['--hold', 'soon'], '--hold: must be a number of seconds'],
  ])('exits 2 on %j naming the flag', async (flags, message) => {
    const result = await runCli(['diagnose', 'ws://127.0.0.1:9/', '--store', store.directory, ...flags]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
