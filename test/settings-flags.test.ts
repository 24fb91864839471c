import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseRunFlags, RUN_DEFAULTS, type RawRunFlags } from '../bin/cli/run-options.js';
import { planRun } from '../functions/engine/plan.js';
import { publicSettings } from '../functions/engine/record.js';
import type { PublicSettings, RunResult } from '../functions/engine/types.js';
import { reproduceCommand, settingsFlags, shellQuote } from '../functions/report/settings-flags.js';
import { recordedRun } from './support/report-fixtures.js';
import { cappedRun } from './support/run-results.js';

/** The words a real shell makes of `command`. */
function shellWords(command: string): string[] {
  const output = execFileSync('bash', ['-c', `printf '%s\\0' ${command}`], { encoding: 'utf8' });
  return output.split('\0').slice(0, -1);
}

/** The public settings `ws-ceiling run` would probe with, given the words of a reproduce command. */
function settingsFromWords(words: readonly string[]): { url: string; targetId: string; settings: PublicSettings } {
  const [, , url, ...rest] = words;
  const { start, step, max, store, ...defaults } = RUN_DEFAULTS;
  const raw: Record<string, string | string[]> = { ...defaults, header: [], subprotocol: [] };
  for (let index = 0; index < rest.length; index += 2) {
    const key = (rest[index] ?? '').replace(/^--/, '').replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
    const value = rest[index + 1] ?? '';
    const previous = raw[key];
    raw[key] = Array.isArray(previous) ? [...previous, value] : value;
  }
  const probe = parseRunFlags(url ?? '', raw as unknown as RawRunFlags);
  const plan = planRun(probe, { now: () => 0, newRunId: () => 'reproduced', startDelayMs: 0 });
  return { url: probe.url, targetId: probe.targetId, settings: publicSettings(probe, plan) };
}

describe('settingsFlags', () => {
  it('speaks every public setting as the run flag that sets it, header values left as placeholders', () => {
    expect(settingsFlags(cappedRun.settings)).toEqual([
      { flag: '--stages', value: '50,100,150,200' },
      { flag: '--hold', value: '30' },
      { flag: '--rate', value: '100' },
      { flag: '--max-in-flight', value: '50' },
      { flag: '--handshake-timeout', value: '10' },
      { flag: '--ping', value: '20' },
      { flag: '--pong-timeout', value: '10' },
      { flag: '--header', value: 'Authorization: <value>' },
      { flag: '--subprotocol', value: 'chat.v1' },
      { flag: '--tolerance', value: '0' },
      { flag: '--max-connections', value: '5000' },
      { flag: '--shard-size', value: '900' },
      { flag: '--min-ceiling', value: '100' },
    ]);
  });

  it('gives an application heartbeat as --heartbeat-message with a placeholder payload and a percent tolerance with %', () => {
    const settings = { ...cappedRun.settings, heartbeat: { kind: 'message' as const, intervalSeconds: 15 }, tolerance: { kind: 'percent' as const, value: 5 } };
    const flags = settingsFlags(settings);
    expect(flags).toContainEqual({ flag: '--heartbeat-message', value: '<value>' });
    expect(flags).toContainEqual({ flag: '--ping', value: '15' });
    expect(flags).toContainEqual({ flag: '--tolerance', value: '5%' });
    expect(flags.some((flag) => flag.flag === '--pong-timeout')).toBe(false);
  });
});

describe('reproduceCommand', () => {
  it('gives a command that the run flags parse back into the same settings', () => {
    for (const run of [recordedRun('concurrency-cap'), recordedRun('idle-timeout'), recordedRun('config-error')] as RunResult[]) {
      const reproduced = settingsFromWords(shellWords(reproduceCommand(run)));
      expect(reproduced).toEqual({ url: run.url, targetId: run.targetId, settings: run.settings });
    }
  });

  it('keeps the redacted URL and header placeholders intact through a shell', () => {
    const run = { ...cappedRun, url: "wss://chat.example.com/it's?token=redacted&room=redacted" };
    const words = shellWords(reproduceCommand(run));
    expect(words.slice(0, 5)).toEqual(['ws-ceiling', 'run', run.url, '--target-id', 'chat-prod']);
    expect(words).toContain('Authorization: <value>');
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
