/**
 * `ws-ceiling rehearse` refuses bad input before anything starts (exit 2,
 * the flag named), and refuses a plan this machine cannot carry across its
 * worker processes (exit 3, with the fix); Ctrl-C during a rehearsal is the
 * kill switch, and the run is recorded inconclusive. Runs the built CLI.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import { runCli } from '../support/cli.js';

let folder: string;
let config: string;

function configWith(plan: object, withSecret = true): object {
  return {
    allowedHosts: ['127.0.0.1'],
    onCall: [],
    targets: [
      {
        id: 'chat',
        url: 'ws://127.0.0.1:9/socket',
        regions: ['eu-west-1'],
        schedule: { cron: '0 2 * * ? *', timeZone: 'UTC' },
        ...(withSecret ? { headers: { Authorization: { secretName: 'chat/token', prefix: 'Bearer ' } } } : {}),
        plan,
      },
    ],
  };
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-rehearse-cli-'));
  config = path.join(folder, 'config.json');
  await writeFile(config, JSON.stringify(configWith({ stages: [4, 8], holdSeconds: 1 })));
});

afterAll(() => rm(folder, { recursive: true, force: true }));

/** Runs rehearse with the test config, a secret given and a store in the test folder. */
function rehearse(args: string[], secrets = '{"chat/token":"x"}') {
  return runCli(['rehearse', '--config', config, '--store', path.join(folder, 'store'), ...args], {
    environment: { WS_CEILING_SECRETS: secrets },
  });
}

describe('ws-ceiling rehearse: refusals', () => {
  it.each([
    [['--target-id', 'nope'], '--target-id: no target "nope" in', '(its targets: chat)'],
    [
      ['--target-id', 'chat', '--region', 'us-east-1'],
      '--region: target chat is probed from eu-west-1, not from us-east-1',
      '',
    ],
    [
      ['--target-id', 'chat', '--url', 'wss://victim.example.net/'],
      '--url: host victim.example.net is not allowed by this deployment (allowed: 127.0.0.1)',
      '',
    ],
    [['--target-id', 'chat', '--fault', 'boom:1'], '--fault: must be crash:SHARD[@SECONDS]', 'got "boom:1"'],
    [
      ['--target-id', 'chat', '--fault', 'crash:5'],
      '--fault: "crash:5" names shard 5, but the plan has shards 0 to 0',
      '',
    ],
    [['--target-id', 'chat', '--start-delay', '60'], '--start-delay: must be a number of seconds from 0.5 to 20', ''],
  ])('exits 2 naming the flag: %j', async (args, message, detail) => {
    const result = await rehearse(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`error: ${message}`);
    expect(result.stderr).toContain(detail);
    expect(result.stdout).toBe('');
  });

  it('exits 2 when a secret the headers name is not given, without printing any value', async () => {
    const result = await rehearse(['--target-id', 'chat'], '{"other":"sekrit-1"}');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: --secrets: target chat's headers name the secret chat/token");
    expect(result.stderr).not.toContain('sekrit-1');
  });

  it('exits 2 on a config error, naming the field', async () => {
    const bad = path.join(folder, 'bad.json');
    await writeFile(bad, JSON.stringify(configWith({ stages: [4, 8], holdSeconds: 'soon' })));
    const result = await runCli(['rehearse', '--config', bad, '--target-id', 'chat']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/error: targets\[0\]\.plan\.holdSeconds: /);
  });

  it('refuses a plan whose workers do not fit this machine, with the fix (exit 3), before synthesizing', async () => {
    const big = path.join(folder, 'big.json');
    const plan = {
      stages: [30_000, 40_000],
      holdSeconds: 10,
      connectRate: 1000,
      maxConnections: 40_000,
      shardSize: 900,
    };
    await writeFile(big, JSON.stringify(configWith(plan)));
    const result = await runCli(['rehearse', '--config', big, '--target-id', 'chat'], {
      environment: { WS_CEILING_SECRETS: '{"chat/token":"x"}' },
    });
    expect(result.code).toBe(3);
    expect(result.stdout).toContain(
      'Rehearsal of chat in eu-west-1: REFUSED (self-check across processes; nothing was started)',
    );
    expect(result.stdout).toMatch(
      /The peak stage opens 40000 connections from this one address to the target, but the local port range \d+-\d+ gives about \d+\. Fix: widen net\.ipv4\.ip_local_port_range/,
    );
    expect(result.stderr).not.toContain('Synthesizing');
  });
});

describe('ws-ceiling rehearse: Ctrl-C', () => {
  it('writes a stop request the workers obey: the run is stored inconclusive, never a ceiling (exit 3)', async () => {
    const simulator = await startTargetSimulator();
    try {
      const slow = path.join(folder, 'slow.json');
      const plan = { stages: [4, 8], holdSeconds: 8, connectRate: 100, shardSize: 4 };
      await writeFile(slow, JSON.stringify(configWith(plan, false)));
      const store = path.join(folder, 'stopped');
      const args = ['rehearse', '--config', slow, '--target-id', 'chat', '--url', `${simulator.url}/socket`];
      const result = await runCli([...args, '--start-delay', '2', '--store', store, '--json'], {
        timeoutMs: 90_000,
        onStart: (child) => {
          let seen = '';
          child.stderr?.on('data', (chunk: Buffer) => {
            seen += chunk.toString();
            if (seen.includes('Running ws-ceiling-chat') && !child.killed) setTimeout(() => child.kill('SIGINT'), 3000);
          });
        },
      });
      expect(result.stderr).toContain('Stop requested: the workers stop opening, close with 1000 and return.');
      const json = JSON.parse(result.stdout) as { run: { verdict: string; verdictReason: string; ceiling: unknown } };
      expect(json.run.verdict).toBe('inconclusive');
      expect(json.run.verdictReason).toContain('stop request');
      expect(json.run.ceiling).toEqual({ value: null, reached: false });
      expect(result.code).toBe(3);
    } finally {
      await simulator.stop();
    }
  });
});
