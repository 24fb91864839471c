import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { configCheckCommand, type ConfigCheckDeps } from '../../bin/cli/config-command.js';
import type { ConcurrencyReading } from '../../functions/adapters/lambda-account.js';
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

/** A look-up of the account's concurrency that answers `reading` and records the regions asked. */
function concurrency(reading: ConcurrencyReading): ConfigCheckDeps & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    readConcurrency: (region) => {
      asked.push(region);
      return Promise.resolve(reading);
    },
  };
}

/** An account with plenty of concurrency. */
const ROOMY = concurrency({ read: true, concurrency: { limit: 1000, unreserved: 1000 } });

/** Writes `config` to a fresh temporary file and returns its path. */
async function configFile(config: unknown): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-check-'));
  directories.push(directory);
  const file = path.join(directory, 'config.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

describe('configCheckCommand', () => {
  it('validates the example config and shows every target, its start per region, workers and cost', async () => {
    const { io, written } = capture();
    expect(await configCheckCommand(EXAMPLE, {}, io, ROOMY)).toBe(0);
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
        '  starts       eu-west-1 02:00, us-east-1 02:28 (Europe/Paris): 28 min apart at least, and a run takes up ' +
          'to 23 min',
        '  stages       250 → 500 → 1000 → 1500 → 2000 → 2500, each held 60 s at 100 new connections/s; floor 1500',
        '  workers      3 × 512 MB, timeout 430 s (plan 385 s)',
        '  Lambda cost  at most $0.0103 a run, $0.6271 a month (2 regions)',
      ].join('\n'),
    );
    expect(text).toContain(
      '  schedule     30 3 ? * MON-FRI * (UTC), about 21.7 runs a month per region; probe-missing alarm after 80 ' +
        'h without a run',
    );
    expect(text).toContain('  starts       eu-west-1 03:30; a run takes up to 21 min');
    expect(text).toContain('agent-desktop  wss://agents.example.com/v1/stream  (disabled)');
    expect(text).toContain('  Lambda cost  at most $0.0124 a run, nothing a month');
    expect(text).toContain('Scheduled runs cost at most $0.7623 a month in Lambda.');
    expect(written.stderr).toBe('');
    expect(ROOMY.asked).toEqual([]);
  });

  it('keeps only the targets of --region and counts their cost in that region', async () => {
    const { io, written } = capture();
    expect(await configCheckCommand(EXAMPLE, { region: 'eu-west-1' }, io, ROOMY)).toBe(0);
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
    expect(await configCheckCommand(file, { json: true }, io, ROOMY)).toBe(0);
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
      regionStarts: [{ region: 'eu-west-1', offsetMinutes: 0 }],
      reservedConcurrency: null,
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
    const check = () => configCheckCommand(file, {}, io, ROOMY);
    await expect(check()).rejects.toThrow(InvalidInputError);
    await expect(check()).rejects.toThrow(
      `targets[1].plan.holdSeconds: must be a number of seconds from 0.1 to 86400, got "soon" (in ${file})`,
    );
    expect(written.stdout).toBe('');
  });

  it('refuses a malformed --region', async () => {
    const { io } = capture();
    await expect(configCheckCommand(EXAMPLE, { region: 'EU' }, io, ROOMY)).rejects.toThrow(
      '--region: must be an AWS region name such as eu-west-1, got "EU"',
    );
  });

  it('refuses the 100,000-connection plan of 7 stages, naming the field and the fix', async () => {
    const file = await configFile({
      allowedHosts: ['chat.example.com'],
      targets: [
        {
          id: 'chat',
          url: 'wss://chat.example.com/socket',
          regions: ['eu-west-1', 'us-east-1'],
          schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
          plan: {
            stages: [25_000, 40_000, 55_000, 70_000, 85_000, 95_000, 100_000],
            holdSeconds: 60,
            connectRate: 2000,
            maxConnections: 100_000,
          },
        },
      ],
    });
    const { io } = capture();
    await expect(configCheckCommand(file, {}, io, ROOMY)).rejects.toThrow(
      /^targets\[0\]\.plan\.stages: 7 stages over 112 workers make a run state of about 2\d\d KB, above the 243 KB a run may use of the 256 KB Step Functions allows for a state \(5 % kept for what varies between runs\): every worker's task repeats the target and the stages; plan at most 6 stages, or fewer connections \(in /,
    );
  });

  it('names connectRate, not holdSeconds, when slow ramps make the plan too long for a worker', async () => {
    const file = await configFile({
      allowedHosts: ['chat.example.com'],
      targets: [
        {
          id: 'chat',
          url: 'wss://chat.example.com/socket',
          regions: ['eu-west-1'],
          schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
          plan: { stages: [500, 1000, 1500, 2000], holdSeconds: 60, connectRate: 2 },
        },
      ],
    });
    const { io } = capture();
    await expect(configCheckCommand(file, {}, io, ROOMY)).rejects.toThrow(
      'targets[0].plan.connectRate: makes the plan too long for one worker Lambda run: 4 stages take 1240 s ' +
        '(ramps at connectRate 2/s: 1000 s; holds of 60 s: 240 s), and with 45 s for start, close and upload a ' +
        "worker needs 1285 s, above Lambda's 900 s; keep the plan to 855 s: raise connectRate to at least 3.3",
    );
  });

  it('shows the deployment name and where its names begin', async () => {
    const file = await configFile({ ...loadConfigFile(EXAMPLE), name: 'staging' });
    const { io, written } = capture();
    expect(await configCheckCommand(file, {}, io, ROOMY)).toBe(0);
    expect(written.stdout).toContain(
      'Deployment staging: stacks ws-ceiling-staging-<region>, runs table ws-ceiling-staging-runs, every name ' +
        'starting ws-ceiling-staging-.',
    );
  });

  it(
    "with --region, reads the account's Lambda concurrency there and refuses workers that would not fit, " +
      'naming the target',
    async () => {
      const tight = concurrency({ read: true, concurrency: { limit: 50, unreserved: 2 } });
      const { io, written } = capture();
      await expect(configCheckCommand(EXAMPLE, { region: 'eu-west-1' }, io, tight)).rejects.toThrow(
        'targets[0].plan: starts 3 workers at once, but the account has only 2 unreserved concurrent executions ' +
          'in eu-west-1 (limit 50), so some would be throttled and every run would be inconclusive',
      );
      expect(tight.asked).toEqual(['eu-west-1']);
      expect(written.stdout).toBe('');

      const { io: fitsIo, written: fits } = capture();
      expect(await configCheckCommand(EXAMPLE, { region: 'eu-west-1', json: true }, fitsIo, ROOMY)).toBe(0);
      expect(JSON.parse(fits.stdout)).toMatchObject({ lambdaConcurrency: { limit: 1000, unreserved: 1000 } });
    },
  );

  it('refuses reservations that would leave Lambda fewer than 100 unreserved executions', async () => {
    const config = loadConfigFile(EXAMPLE);
    const file = await configFile({
      ...config,
      targets: config.targets.map((target) => ({ ...target, reservedConcurrency: 60 })),
    });
    const { io } = capture();
    const account = concurrency({ read: true, concurrency: { limit: 200, unreserved: 200 } });
    await expect(configCheckCommand(file, { region: 'eu-west-1' }, io, account)).rejects.toThrow(
      'targets[0].reservedConcurrency: the targets of eu-west-1 reserve 120 concurrent executions in all, but the ' +
        "account's limit there is 200 and Lambda keeps 100 unreserved, so at most 100 can be reserved",
    );
  });

  it('says it could not check the concurrency without figures, and goes on', async () => {
    const { io, written } = capture();
    const none = concurrency({ read: false, reason: 'CredentialsProviderError: Could not load credentials' });
    expect(await configCheckCommand(EXAMPLE, { region: 'eu-west-1' }, io, none)).toBe(0);
    expect(written.stderr).toBe(
      'note: could not check the Lambda concurrency of eu-west-1 (CredentialsProviderError: Could not load ' +
        'credentials); its targets start up to 5 workers at once. Check again with AWS credentials for the account.\n',
    );
    expect(written.stdout).toContain('is valid: 2 targets probed from eu-west-1');
  });

  it(
    'never hangs on the credential look-up: without credentials or instance metadata the CLI notes it and ' + 'exits 0',
    () => {
      const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
      const child = spawnSync(
        process.execPath,
        ['dist/bin/ws-ceiling.js', 'config', 'check', EXAMPLE, '--region', 'eu-west-1'],
        {
          encoding: 'utf8',
          timeout: 30_000,
          env: {
            ...environment,
            AWS_EC2_METADATA_DISABLED: 'true',
            AWS_CONFIG_FILE: '/nonexistent/ws-ceiling-config',
            AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/ws-ceiling-credentials',
          },
        },
      );
      expect(child.error).toBeUndefined();
      expect(child.status).toBe(0);
      expect(child.stderr).toMatch(/^note: could not check the Lambda concurrency of eu-west-1 \(.*credentials/i);
      expect(child.stdout).toContain('is valid: 2 targets probed from eu-west-1');
    },
    30_000,
  );
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
