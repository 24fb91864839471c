import { describe, expect, it } from 'vitest';
import { formatLatency, formatUtc } from '../../functions/report/format.js';
import { markdownSummary, STATUS_WORDS } from '../../functions/report/markdown-summary.js';
import { reproduceCommand } from '../../functions/report/settings-flags.js';
import { withBaseline } from '../fixtures/run-variants.js';
import { FIXTURE_SECRETS, loadRecordedRun, SCENARIOS } from '../fixtures/simulator-runs.js';

const cap = loadRecordedRun('concurrency-cap');

/** The rows of the stage table of `run`, as the summary writes them. */
function stageRows(run: typeof cap): string[] {
  return run.stages.map(
    (stage) =>
      `| ${stage.index + 1} | ${stage.target} | ${stage.opened} | ${stage.openAtEnd} | ${stage.failed} | ` +
      `${formatLatency(stage.handshakeMs)} | ${stage.held ? 'yes' : 'no'} |`,
  );
}

describe('markdownSummary', () => {
  it('summarises a regressed run with its cause, baseline, floor, stages and a secret-free reproduce command', () => {
    const ceiling = cap.ceiling.value as number;
    const run = {
      ...withBaseline(cap, ceiling * 2, 7),
      verdict: 'regressed' as const,
      verdictReason: `Ceiling ${ceiling} is 50 % under the baseline.`,
    };
    expect(markdownSummary(run)).toBe(
      [
        `### ws-ceiling FAIL: \`${cap.targetId}\` (regressed)`,
        '',
        run.verdictReason,
        '',
        cap.limitingFactor?.summary,
        '',
        '| | |',
        '| --- | --- |',
        `| Ceiling | ${ceiling} concurrent connections (held ${cap.settings.holdSeconds} s within tolerance) |`,
        `| Drops began | at ${cap.dropOnset} open connections |`,
        '| Cause | `concurrency-cap` |',
        `| Baseline | ${ceiling * 2} (median of 7 earlier runs): this run is 50 % of it; under ${ceiling * 1.8} ` +
          'is a regression |',
        `| Floor | ${cap.settings.minCeiling} (\`--min-ceiling\`) |`,
        `| Handshake ms p50 / p95 / p99 | ${formatLatency(cap.handshakeMs)} |`,
        `| Failures | handshake-rejected ${cap.failures.total} (HTTP 503 × ${cap.failures.total}) |`,
        '',
        '| stage | target | opened | open at end | failed | handshake ms p50 / p95 / p99 | held |',
        '| ---: | ---: | ---: | ---: | ---: | --- | --- |',
        ...stageRows(cap),
        '',
        `Run \`${cap.runId}\` started ${formatUtc(cap.startedAt)}, probe ${cap.probeVersion}, region local. To ` +
          `reproduce (fill in each \`<value>\` and the query values shown as \`redacted\`):`,
        '',
        '```sh',
        reproduceCommand(cap),
        '```',
        '',
      ].join('\n'),
    );
    expect(reproduceCommand(cap)).toContain(`'${cap.url}'`);
  });

  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'gives the recorded %s run its status word, cause, stages and the command that repeats it',
    (name) => {
      const run = loadRecordedRun(name);
      const text = markdownSummary(run);
      const lines = text.split('\n');
      expect(lines[0]).toBe(`### ws-ceiling ${STATUS_WORDS[run.verdict]}: \`${run.targetId}\` (${run.verdict})`);
      expect(lines[2]).toBe(run.verdictReason);
      expect(text).toContain(
        `| Cause | ${run.limitingFactor ? `\`${run.limitingFactor.kind}\`` : 'none: nothing failed'} |`,
      );
      expect(text.includes('| stage | target |')).toBe(run.stages.length > 0);
      expect(text).toContain(`\n\`\`\`sh\n${reproduceCommand(run)}\n\`\`\`\n`);
      if (run.settings.simulate !== undefined) {
        expect(reproduceCommand(run)).toContain(`--simulate ${run.settings.simulate}`);
        expect(reproduceCommand(run)).not.toContain(run.url);
      }
      for (const secret of FIXTURE_SECRETS) expect(text).not.toContain(secret);
    },
  );

  it('says an inconclusive run measured no ceiling and names the duration limit', () => {
    const idle = loadRecordedRun('idle-timeout');
    const text = markdownSummary(idle);
    expect(text).toContain(
      `| Ceiling | not measured |\n| Drops began | at ${idle.dropOnset} open connections |\n| Cause | ` +
        `\`idle-timeout\` |\n| Baseline | none yet |`,
    );
    expect(text).toContain('--ping off');
  });

  it('keeps header values out and asks for them as placeholders', () => {
    const failed = markdownSummary(loadRecordedRun('config-error'));
    expect(failed).toContain("--header 'Authorization: <value>'");
    expect(failed).toContain('To reproduce (fill in each `<value>`):');
    expect(Object.values(STATUS_WORDS).every((word) => /^[A-Z]+$/.test(word))).toBe(true);
  });

  it('keeps table cells on one line and escapes pipes in free text', () => {
    const text = markdownSummary({
      ...loadRecordedRun('unreachable'),
      targetId: 'a`b',
      verdictReason: 'one | two\nthree',
    });
    expect(text.split('\n')[0]).toBe('### ws-ceiling ERROR: `` a`b `` (failed)');
    expect(text.split('\n')[2]).toBe('one \\| two three');
  });
});
