import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseRunFlags, RUN_DEFAULTS, type RawRunFlags } from '../../bin/cli/run-options.js';
import { planRun } from '../../functions/engine/plan.js';
import { publicSettings } from '../../functions/engine/record.js';
import type { PublicSettings } from '../../functions/engine/types.js';
import { reproduceCommand, settingsFlags, shellQuote, valuesToFillIn } from '../../functions/report/settings-flags.js';
import { loadRecordedRun, SCENARIOS } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');

/** Stands in for the free port a reproduced `--simulate` run would get. */
const SIMULATOR_URL = 'ws://127.0.0.1:1/';

/** The words a real shell makes of `command`. */
function shellWords(command: string): string[] {
  const output = execFileSync('bash', ['-c', `printf '%s\\0' ${command}`], { encoding: 'utf8' });
  return output.split('\0').slice(0, -1);
}

/**
 * The public settings `ws-ceiling run` would probe with, given the words of a
 * reproduce command: its URL, or the simulator's for `--simulate`.
 */
function settingsFromWords(words: readonly string[]): { url: string; targetId: string; settings: PublicSettings } {
  const [, , first = '', ...others] = words;
  const [url, rest] = first.startsWith('--') ? [SIMULATOR_URL, [first, ...others]] : [first, others];
  const { start: _start, step: _step, max: _max, store: _store, ...defaults } = RUN_DEFAULTS;
  const raw: Record<string, string | string[]> = { ...defaults, header: [], subprotocol: [] };
  for (let index = 0; index < rest.length; index += 2) {
    const key = (rest[index] ?? '').replace(/^--/, '').replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
    const value = rest[index + 1] ?? '';
    const previous = raw[key];
    raw[key] = Array.isArray(previous) ? [...previous, value] : value;
  }
  const probe = parseRunFlags(url, raw as unknown as RawRunFlags);
  const plan = planRun(probe, { now: () => 0, newRunId: () => 'reproduced', startDelayMs: 0 });
  return { url: probe.url, targetId: probe.targetId, settings: publicSettings(probe, plan) };
}

describe('settingsFlags', () => {
  it('speaks every public setting as the run flag that sets it, header values left as placeholders', () => {
    const { settings } = cap;
    const heartbeat = settings.heartbeat;
    expect(settingsFlags(settings)).toEqual([
      { flag: '--stages', value: settings.stages.join(',') },
      { flag: '--hold', value: String(settings.holdSeconds) },
      { flag: '--rate', value: String(settings.connectRate) },
      { flag: '--max-in-flight', value: String(settings.maxInFlight) },
      { flag: '--handshake-timeout', value: String(settings.handshakeTimeoutSeconds) },
      { flag: '--ping', value: String(heartbeat.intervalSeconds) },
      { flag: '--pong-timeout', value: String(heartbeat.pongTimeoutSeconds) },
      { flag: '--header', value: 'Authorization: <value>' },
      { flag: '--subprotocol', value: settings.subprotocols[0] },
      { flag: '--tolerance', value: String(settings.tolerance.value) },
      { flag: '--max-connections', value: String(settings.maxConnections) },
      { flag: '--shard-size', value: String(settings.shardSize) },
      { flag: '--min-ceiling', value: String(settings.minCeiling) },
    ]);
  });

  it('names the simulator spec of a simulated run first, as --simulate', () => {
    const idle = loadRecordedRun('idle-timeout');
    expect(settingsFlags(idle.settings)[0]).toEqual({ flag: '--simulate', value: idle.settings.simulate });
    expect(idle.settings.simulate).toBeDefined();
  });

  it(
    'gives an application heartbeat as --heartbeat-message with a placeholder payload and a percent tolerance ' +
      'with %',
    () => {
      const settings = {
        ...cap.settings,
        heartbeat: { kind: 'message' as const, intervalSeconds: 15 },
        tolerance: { kind: 'percent' as const, value: 5 },
      };
      const flags = settingsFlags(settings);
      expect(flags).toContainEqual({ flag: '--heartbeat-message', value: '<value>' });
      expect(flags).toContainEqual({ flag: '--ping', value: '15' });
      expect(flags).toContainEqual({ flag: '--tolerance', value: '5%' });
      expect(flags.some((flag) => flag.flag === '--pong-timeout')).toBe(false);
    },
  );
});

describe('reproduceCommand', () => {
  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'gives the recorded %s run a command that the run flags parse back into the same settings',
    (name) => {
      const run = loadRecordedRun(name);
      const reproduced = settingsFromWords(shellWords(reproduceCommand(run)));
      expect(reproduced).toEqual({
        url: run.settings.simulate === undefined ? run.url : SIMULATOR_URL,
        targetId: run.targetId,
        settings: run.settings,
      });
    },
  );

  it('repeats a run of the bundled simulator with its --simulate spec instead of the port it had', () => {
    const run = loadRecordedRun('server-degradation');
    const words = shellWords(reproduceCommand(run));
    expect(words.slice(0, 6)).toEqual([
      'ws-ceiling',
      'run',
      '--target-id',
      run.targetId,
      '--simulate',
      run.settings.simulate,
    ]);
    expect(words).not.toContain(run.url);
  });

  it('keeps the redacted URL and header placeholders intact through a shell', () => {
    const run = { ...cap, url: "wss://chat.example.com/it's?token=redacted&room=redacted" };
    const words = shellWords(reproduceCommand(run));
    expect(words.slice(0, 5)).toEqual(['ws-ceiling', 'run', run.url, '--target-id', cap.targetId]);
    expect(words).toContain('Authorization: <value>');
  });
});

describe('valuesToFillIn', () => {
  it('asks for header values and query values only where the command leaves them out', () => {
    expect(valuesToFillIn(cap)).toEqual({ placeholders: true, redactedQuery: true });
    expect(valuesToFillIn(loadRecordedRun('config-error'))).toEqual({ placeholders: true, redactedQuery: false });
    expect(valuesToFillIn(loadRecordedRun('held'))).toEqual({ placeholders: false, redactedQuery: false });
  });
});

describe('shellQuote', () => {
  it('leaves plain words alone and quotes anything a shell would split or expand', () => {
    expect(shellQuote('ws://127.0.0.1:8080/socket')).toBe('ws://127.0.0.1:8080/socket');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
    expect(shellQuote('')).toBe("''");
  });
});
