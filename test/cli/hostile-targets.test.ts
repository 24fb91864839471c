// run and diagnose against the simulator's hostile modes, through the built CLI: a target that cannot be measured
// is a failed probe (exit 3) with a plain sentence, never a cap or an exact ceiling of 0; a close handshake that
// never completes is not a ceiling; a queueing gateway is found with the default handshake timeout.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../functions/engine/types.js';
import { runCli, temporaryStore } from '../support/cli.js';

let store: { directory: string; remove: () => Promise<void> };
beforeEach(async () => {
  store = await temporaryStore();
});
afterEach(async () => {
  await store.remove();
});

/** `ws-ceiling <command> --simulate <spec> --json` with `flags`: the exit code and the printed JSON. */
async function probe<T>(command: 'run' | 'diagnose', spec: string, flags: string[]) {
  const result = await runCli([command, '--simulate', spec, '--json', '--store', store.directory, ...flags]);
  expect(result.stdout.trim().startsWith('{'), result.stderr).toBe(true);
  return { code: result.code, output: JSON.parse(result.stdout) as T, text: result.stdout };
}

interface DiagnosisJson {
  verdict: string;
  reason: string;
  findings: { kind: string }[];
}

describe('targets that cannot be measured', () => {
  it.each([
    ['answer=web-page', 'config-error', 'answers HTTP 200 without upgrading: not a WebSocket endpoint'],
    ['reject=500', 'unreachable', 'refused every upgrade (3 × HTTP 500) before any connection opened'],
    ['answer=not-http', 'config-error', 'answers with bytes that are not HTTP (Parse Error: Expected HTTP/'],
    ['bad-frame-after=0.3', 'config-error', 'The server broke the WebSocket protocol after the upgrade, at 3 open'],
  ])('fail the run with %s: %s, exit 3', async (spec, kind, sentence) => {
    const run = await probe<RunResult>('run', spec, ['--stages', '3,6', '--hold', '0.5']);
    expect(run.code).toBe(3);
    expect(run.output).toMatchObject({ verdict: 'failed', ceiling: { value: null }, dropOnset: null });
    expect(run.output.limitingFactor?.kind).toBe(kind);
    expect(run.output.limitingFactor?.summary).toContain(sentence);
    expect(run.text).not.toMatch(/cap at 0|ceiling of 0|could not reach/i);
  });

  it.each([
    ['answer=web-page', 'answers HTTP 200 without upgrading: not a WebSocket endpoint'],
    ['reject=500', 'refused every upgrade (3 × HTTP 500) before any connection opened'],
  ])('fail diagnose with %s as they fail run, exit 3', async (spec, sentence) => {
    const diagnosis = await probe<DiagnosisJson>('diagnose', spec, ['--stages', '3,6', '--hold', '0.3']);
    expect(diagnosis.code).toBe(3);
    expect(diagnosis.output.verdict).toBe('failed');
    expect(diagnosis.output.findings.map((finding) => finding.kind)).toEqual(['probe-failure']);
    expect(diagnosis.output.reason).toContain(sentence);
    expect(diagnosis.text).not.toMatch(/cap at 0|ceiling of 0/i);
  });
});

describe('a server that sends its close frame and keeps TCP open', () => {
  it('is over when its close frame arrives: no ceiling, no OK, and the probe lets go within seconds', async () => {
    const started = Date.now();
    const { code, output } = await probe<RunResult>('run', 'close-after=1,close-tcp=keep', [
      '--stages',
      '3,6',
      '--hold',
      '1.5',
    ]);
    expect(code).toBe(3);
    expect(output.verdict).toBe('inconclusive');
    expect(output.ceiling.value).toBeNull();
    expect(output.limitingFactor?.kind).toBe('idle-timeout');
    expect(output.limitingFactor?.summary).toContain('No heartbeat was due before these closes');
    expect(output.failures.byCloseCode).toEqual({ '1001': 3 });
    expect(output.stages.map((stage) => [stage.opened, stage.openAtEnd, stage.failed, stage.held])).toEqual([
      [3, 0, 3, false],
    ]);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('a queueing gateway', () => {
  it('is found with the default 10 s handshake timeout and a hold of half a second', async () => {
    const { code, output } = await probe<RunResult>('run', 'cap=2,cap-response=queue', [
      '--stages',
      '2,4',
      '--hold',
      '0.5',
    ]);
    expect(code).toBe(0);
    expect(output.settings.handshakeTimeoutSeconds).toBe(10);
    expect(output.ceiling).toEqual({ value: 2, reached: true });
    expect(output.limitingFactor?.kind).toBe('concurrency-cap');
    expect(output.failures.byClass).toEqual({ 'handshake-timeout': 2 });
    expect(output.limitingFactor?.summary).toContain('never answered');
  });
});
