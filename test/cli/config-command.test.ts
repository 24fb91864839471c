import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configCheckCommand } from '../../bin/cli/config-command.js';
import {
  LAMBDA_ARM64_USD_PER_GB_SECOND,
  LAMBDA_USD_PER_REQUEST,
  estimateTargetCost,
} from '../../functions/config/run-cost.js';
import { loadConfigFile, parseTargetConfig } from '../../functions/config/target-config.js';
import { InvalidInputError } from '../../functions/engine/errors.js';

const EXAMPLE = 'config/example.config.json';
const DAYS_PER_MONTH = 365.2425 / 12;

/** Collects what a command writes. */
function capture() {
  const written = { stdout: '', stderr: '' };
  const io = {
    stdout: { write: (text: string) => (written.stdout += text) },
    stderr: { write: (text: string) => (written.stderr += text) },
  };
  return { io, written };
}

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

describe('configCheckCommand', () => {
  it('validates the example config and shows every target with its workers, timeout and cost', () => {
    const { io, written } = capture();
    expect(configCheckCommand(EXAMPLE, {}, io)).toBe(0);
    const text = written.stdout;
    expect(text).toContain(
      'config/example.config.json is valid: 3 targets in 2 regions (eu-west-1, us-east-1), 3 allowed hosts, 2 ' +
        'on-call endpoints.',
    );
    expect(text).toContain(
      [
        'chat  wss://chat.example.com/socket',
        '  regions      eu-west-1, us-east-1',
        '  schedule     0 2 * * ? * (Europe/Paris), about 30.4 runs a month per region; probe-missing alarm ' +
          'after 48 h without a run',
        '  stages       250 → 500 → 1000 → 1500 → 2000 → 2500, each held 60 s at 100 new connections/s; floor 1500',
        '  workers      3 × 512 MB, timeout 430 s (plan 385 s)',
        '  Lambda cost  at most $0.0103 a run, $0.6271 a month (2 regions)',
      ].join('\n'),
    );
    expect(text).toContain(
      '  schedule     30 3 ? * MON-FRI * (UTC), about 21.7 runs a month per region; probe-missing alarm after 80 ' +
        'h without a run',
    );
    expect(text).toContain('agent-desktop  wss://agents.example.com/v1/stream  (disabled)');
    expect(text).toContain('  Lambda cost  at most $0.0124 a run, nothing a month');
    expect(text).toContain('Scheduled runs cost at most $0.7623 a month in Lambda.');
    expect(written.stderr).toBe('');
  });

  it('keeps only the targets of --region and counts their cost in that region', () => {
    const { io, written } = capture();
    expect(configCheckCommand(EXAMPLE, { region: 'eu-west-1' }, io)).toBe(0);
    expect(written.stdout).toContain('is valid: 2 targets probed from eu-west-1');
    expect(written.stdout).toContain('  Lambda cost  at most $0.0103 a run, $0.3135 a month\n');
    expect(written.stdout).not.toContain('agent-desktop');
    expect(written.stdout).toContain('Scheduled runs cost at most $0.4488 a month in Lambda in eu-west-1.');
  });

  it('prints the figures as JSON with --json, URLs redacted, no header values and no webhook path', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-check-'));
    directories.push(directory);
    const file = path.join(directory, 'config.json');
    const config = {
      allowedHosts: ['chat.example.com'],
      onCall: [
        { kind: 'email', address: 'oncall@example.com' },
        { kind: 'https', url: 'https://events.pagerduty.example/integration/key-123/enqueue' },
      ],
      targets: [
        {
          id: 'chat',
          url: 'wss://chat.example.com/socket?tenant=acme',
          regions: ['eu-west-1'],
          schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
          headers: { 'X-Probe': 'plain-header-value', Authorization: { secretName: 'chat/token', prefix: 'Bearer ' } },
          plan: { stages: [100, 1000], holdSeconds: 30, connectRate: 100 },
        },
      ],
    };
    await writeFile(file, JSON.stringify(config));
    const { io, written } = capture();
    expect(configCheckCommand(file, { json: true }, io)).toBe(0);
    const report = JSON.parse(written.stdout) as {
      onCall: unknown[];
      targets: Array<Record<string, unknown> & { cost: Record<string, number> }>;
      usdPerMonth: number;
    };
    expect(report.onCall).toEqual([
      { kind: 'email', address: 'oncall@example.com' },
      { kind: 'https', host: 'events.pagerduty.example' },
    ]);
    expect(report.targets[0]).toMatchObject({
      id: 'chat',
      url: 'wss://chat.example.com/socket?tenant=redacted',
      enabled: true,
      regions: ['eu-west-1'],
      stages: [100, 1000],
      planSeconds: 70,
      floor: null,
      cost: { shards: 2, workerMemoryMb: 512, workerTimeoutSeconds: 115, requestsPerRun: 4, regions: 1 },
    });
    expect(report.usdPerMonth).toBeCloseTo((report.targets[0]?.cost.usdPerRun ?? Number.NaN) * DAYS_PER_MONTH, 9);
    expect(written.stdout).not.toMatch(/plain-header-value|Bearer|acme|key-123/);
  });

  it('refuses a bad file with the path of the bad field', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-check-'));
    directories.push(directory);
    const file = path.join(directory, 'config.json');
    const config = JSON.parse(JSON.stringify(loadConfigFile(EXAMPLE))) as {
      targets: Array<{ plan: Record<string, unknown> }>;
    };
    config.targets[1]!.plan.holdSeconds = 'soon';
    await writeFile(file, JSON.stringify(config));
    const { io, written } = capture();
    const check = () => configCheckCommand(file, {}, io);
    expect(check).toThrow(InvalidInputError);
    expect(check).toThrow(
      `targets[1].plan.holdSeconds: must be a number of seconds from 0.1 to 86400, got "soon" (in ${file})`,
    );
    expect(written.stdout).toBe('');
  });

  it('refuses a malformed --region', () => {
    const { io } = capture();
    expect(() => configCheckCommand(EXAMPLE, { region: 'EU' }, io)).toThrow(
      '--region: must be an AWS region name such as eu-west-1, got "EU"',
    );
  });
});

describe('estimateTargetCost', () => {
  /** A validated target with `overrides`. */
  const target = (overrides: Record<string, unknown> = {}) =>
    parseTargetConfig(
      {
        id: 't',
        url: 'wss://chat.example.com/',
        regions: ['eu-west-1', 'us-east-1'],
        schedule: { cron: '0 */6 * * ? *', timeZone: 'UTC' },
        ...overrides,
      },
      'test',
    );

  it('bills every worker to its timeout, plus the plan and record steps', () => {
    // 1,800 connections: 2 workers; 2 s + 2 s ramps at 450/s and 2 × 10 s holds = 24 s plan, 69 s timeout.
    const cost = estimateTargetCost(
      target({ plan: { stages: [900, 1800], connectRate: 450, holdSeconds: 10 }, workerMemoryMb: 1024 }),
    );
    // Plus the plan (256 MB for 30 s) and the record step (1024 MB for 120 s).
    const gbSeconds = 2 * 1 * 69 + 0.25 * 30 + 1 * 120;
    expect(cost).toMatchObject({ shards: 2, workerTimeoutSeconds: 69, requestsPerRun: 4, regions: 2 });
    expect(cost.gbSecondsPerRun).toBeCloseTo(gbSeconds, 9);
    expect(cost.usdPerRun).toBeCloseTo(gbSeconds * LAMBDA_ARM64_USD_PER_GB_SECOND + 4 * LAMBDA_USD_PER_REQUEST, 12);
  });

  it('multiplies by the schedule runs of an average month and by the regions', () => {
    const cost = estimateTargetCost(target());
    expect(cost.runsPerMonth).toBeCloseTo(4 * DAYS_PER_MONTH, 9);
    expect(cost.usdPerMonth).toBeCloseTo(cost.usdPerRun * 4 * DAYS_PER_MONTH * 2, 12);
    expect(estimateTargetCost(target(), 1).usdPerMonth).toBeCloseTo(cost.usdPerMonth / 2, 12);
  });

  it('counts no scheduled runs for a disabled target', () => {
    const cost = estimateTargetCost(target({ enabled: false }));
    expect(cost.runsPerMonth).toBe(0);
    expect(cost.usdPerMonth).toBe(0);
    expect(cost.usdPerRun).toBeGreaterThan(0);
  });
});
