import { describe, expect, it } from 'vitest';
import type { RunResult, Verdict } from '../../functions/engine/types.js';
import { describeCause } from '../../functions/engine/words/cause-headline.js';
import { snsMessageOf } from '../../functions/adapters/sns-run-alerts.js';
import { runAlert, type AlertContext } from '../../functions/steps/run-alert.js';
import { cappedRun, heldRun } from '../support/run-results.js';

const REPORT = {
  bucket: 'shard-results',
  key: 'reports/chat-prod/run-capped.html',
  consoleUrl: 'https://eu-west-1.console.aws.amazon.com/s3/object/shard-results?region=eu-west-1',
};
const CONTEXT: AlertContext = { region: 'eu-west-1', report: REPORT };

/** cappedRun with `verdict` and `fields`. */
function runWith(verdict: Verdict, fields: Partial<RunResult> = {}): RunResult {
  return { ...cappedRun, verdict, ...fields };
}

const regressed = runWith('regressed', {
  ceiling: { value: 150, reached: true },
  baseline: { value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 },
});

describe('runAlert', () => {
  it('tells on-call about a regressed run: target, region, ceiling and baseline, cause, run, commands', () => {
    const alert = runAlert(regressed, undefined, CONTEXT);
    expect(alert?.kind).toBe('alarm');
    expect(alert?.subject).toBe('ws-ceiling: chat-prod probed from eu-west-1: REGRESSED (ceiling 150, baseline 200)');
    expect(alert?.text).toBe(
      [
        'ws-ceiling: chat-prod probed from eu-west-1: REGRESSED',
        '',
        'Ceiling: 150 is 25 % under the baseline of 200 (median of 7 runs); tolerance 10 %. Floor 100.',
        `Cause:   ${describeCause(regressed)}`,
        `Verdict: ${regressed.verdictReason}`,
        'Run:     run-capped, started 2025-03-01 10:00:00 UTC',
        '',
        'See it:',
        '  ws-ceiling report run-capped --region eu-west-1',
        '  ws-ceiling history --region eu-west-1 --target-id chat-prod',
        '  ws-ceiling invoke --target-id chat-prod --region eu-west-1',
        '',
        `Report: ${REPORT.consoleUrl}`,
        '  (the HTML report in the S3 console, kept 90 days; sign in to this account first, or run the first ' +
          'command above)',
      ].join('\n'),
    );
    expect(alert?.chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      id: 'run-capped-alarm',
      content: {
        textType: 'client-markdown',
        title: ':red_circle: ws-ceiling: chat-prod probed from eu-west-1: REGRESSED',
        nextSteps: [
          '`ws-ceiling report run-capped --region eu-west-1`',
          '`ws-ceiling history --region eu-west-1 --target-id chat-prod`',
          '`ws-ceiling invoke --target-id chat-prod --region eu-west-1`',
        ],
        keywords: ['ws-ceiling', 'chat-prod', 'eu-west-1', 'regressed'],
      },
      metadata: { threadId: 'ws-ceiling-eu-west-1-chat-prod', eventType: 'regressed' },
    });
    expect(alert?.chat.content.description).toContain(`*Cause:* ${describeCause(regressed)}`);
    expect(alert?.chat.content.description).toContain(`<${REPORT.consoleUrl}|HTML report in the S3 console>`);
  });

  it('tells about a below-floor run against its floor, a failed one and an inconclusive one without a ceiling', () => {
    const belowFloor = runWith('below-floor', { settings: { ...cappedRun.settings, minCeiling: 500 } });
    expect(runAlert(belowFloor, undefined, CONTEXT)?.text).toContain(
      'Ceiling: 150 concurrent connections; baseline 200 (median of 7 runs; regressed under 180); under the floor ' +
        'of 500',
    );
    expect(runAlert(belowFloor, undefined, CONTEXT)?.subject).toContain('BELOW-FLOOR (ceiling 150, floor 500)');
    const failed = runWith('failed', { ceiling: { value: null, reached: false } });
    expect(runAlert(failed, undefined, CONTEXT)?.text).toContain(
      'Ceiling: none: the probe failed, nothing was measured',
    );
    const inconclusive = runWith('inconclusive', { ceiling: { value: null, reached: false } });
    const alert = runAlert(inconclusive, undefined, CONTEXT);
    expect(alert?.subject).toBe('ws-ceiling: chat-prod probed from eu-west-1: INCONCLUSIVE (no ceiling)');
    expect(alert?.text).toContain('Ceiling: unknown: the run was inconclusive (this is not a low ceiling)');
  });

  it('says OK again when an ok run follows one that paged, and nothing after an ok run or for a skipped one', () => {
    const recovered = runAlert(heldRun, regressed, CONTEXT);
    expect(recovered?.kind).toBe('recovered');
    expect(recovered?.subject).toBe('ws-ceiling: chat-prod probed from eu-west-1: OK again (no ceiling)');
    expect(recovered?.text).toContain('Before:  run run-capped of 2025-03-01 10:00:00 UTC was REGRESSED');
    expect(recovered?.chat.content.title).toBe(
      ':large_green_circle: ws-ceiling: chat-prod probed from eu-west-1: OK again',
    );
    expect(runAlert(heldRun, heldRun, CONTEXT)).toBeUndefined();
    expect(runAlert(heldRun, undefined, CONTEXT)).toBeUndefined();
    expect(runAlert(runWith('skipped'), regressed, CONTEXT)).toBeUndefined();
  });

  it('names the deployment in the commands, says when no report was stored, and keeps the subject under 100', () => {
    const long = runWith('regressed', { ...regressed, targetId: 'a'.repeat(48) });
    const alert = runAlert(long, undefined, { region: 'ap-southeast-2', deployment: 'staging' });
    expect(alert?.subject.length).toBeLessThan(100);
    expect(alert?.subject.endsWith('…')).toBe(true);
    expect(alert?.text).toContain(`ws-ceiling report run-capped --region ap-southeast-2 --deployment staging`);
    expect(alert?.text).toContain('Report: not stored (see the record step log); run the first command above');
  });
});

describe('snsMessageOf', () => {
  it('gives SNS the plain text for e-mail and by default, and the Chatbot notification for https', () => {
    const alert = runAlert(regressed, undefined, CONTEXT);
    if (!alert) throw new Error('expected a message');
    const bodies = JSON.parse(snsMessageOf(alert)) as Record<string, string>;
    expect(Object.keys(bodies).sort()).toEqual(['default', 'email', 'https']);
    expect(bodies.default).toBe(alert.text);
    expect(bodies.email).toBe(alert.text);
    expect(JSON.parse(bodies.https ?? '')).toEqual(alert.chat);
  });
});
