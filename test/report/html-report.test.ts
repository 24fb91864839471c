import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultReportFile, reportCommand } from '../../bin/cli/report-command.js';
import { openLocalStore } from '../../bin/cli/local-store.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { FailureClass, RunResult } from '../../functions/engine/types.js';
import { describeRegression, MIN_BASELINE_RUNS } from '../../functions/engine/baseline.js';
import { MAX_MARKED_FAILURES_PER_KIND } from '../../functions/engine/run-timeline.js';
import { formatBaseline, formatChange, formatMs, formatPercent } from '../../functions/report/format.js';
import { escapeHtml, html } from '../../functions/report/html-escape.js';
import { renderHtmlReport } from '../../functions/report/html-report.js';
import { renderTimelineChart } from '../../functions/report/timeline-chart.js';
import { rerun, withBaseline } from '../fixtures/run-variants.js';
import {
  FIXTURE_RUNS_DIRECTORY,
  FIXTURE_SECRETS,
  loadRecordedRun,
  SCENARIOS,
  type ScenarioName,
} from '../fixtures/simulator-runs.js';
import { temporaryStore } from '../support/cli.js';

const cappedRun = loadRecordedRun('concurrency-cap');
const heldRun = loadRecordedRun('held');

const GENERATED_AT = '2026-11-22T12:00:00.000Z';

/** Every tag the report itself writes; anything else came from a string that escaped escaping. */
const REPORT_TAGS = new Set([
  'html',
  'head',
  'meta',
  'title',
  'style',
  'body',
  'main',
  'header',
  'footer',
  'section',
  'p',
  'h1',
  'h2',
  'br',
  'code',
  'pre',
  'strong',
  'span',
  'dl',
  'div',
  'dt',
  'dd',
  'figure',
  'table',
  'caption',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'svg',
  'g',
  'line',
  'text',
  'rect',
  'path',
]);

function report(name: ScenarioName, history?: RunResult[]): { run: RunResult; page: string } {
  const run = loadRecordedRun(name);
  return { run, page: renderHtmlReport(run, { generatedAt: GENERATED_AT, ...(history ? { history } : {}) }) };
}

/** The text of the first element with `className`, tags stripped and entities decoded. */
function textOf(page: string, className: string): string {
  const match = new RegExp(`<(\\w+) class="${className}"[^>]*>([\\s\\S]*?)</\\1>`).exec(page);
  if (!match) throw new Error(`no element with class ${className}`);
  return decode((match[2] ?? '').replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}

function decode(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function count(page: string, fragment: string): number {
  return page.split(fragment).length - 1;
}

function markersOf(page: string, failureClass: FailureClass): number {
  return count(page, `class="failure-marker" data-class="${failureClass}"`);
}

describe('renderHtmlReport', () => {
  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'writes a self-contained page for the recorded %s run: no script, nothing fetched, no web address',
    (name) => {
      const { page } = report(name);
      expect(page.startsWith('<!doctype html>')).toBe(true);
      expect(page).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|@import/i);
      expect(page.match(/https?:\/\//gi)).toBeNull();
      expect(page).toContain(`default-src 'none'`);
    },
  );

  it('puts the verdict, ceiling, drop onset and cause in plain words at the top of a capped run', () => {
    const { page } = report('concurrency-cap');
    expect(textOf(page, 'headline')).toBe(
      'OK The server refused upgrades with HTTP 503 once 60 connections were open: a concurrency cap.',
    );
    const figures = textOf(page, 'figures');
    expect(figures).toContain('Ceiling 60 held 1 s within tolerance; required at least 40');
    expect(figures).toContain('Drops began at 60 open connections');
    expect(figures).toContain('Limiting factor concurrency cap concurrency-cap');
    expect(page.indexOf('class="headline"')).toBeLessThan(page.indexOf('class="timeline-chart"'));
  });

  it(
    'draws the capped run as one stage step per stage and one marker per marked refusal, with the 503 in each ' +
      'hover title',
    () => {
      const { run, page } = report('concurrency-cap');
      expect(count(page, 'class="stage-step"')).toBe(run.stages.length);
      expect(markersOf(page, 'handshake-rejected')).toBe(run.timeline.failures.length);
      expect(run.timeline.failures.length).toBe(MAX_MARKED_FAILURES_PER_KIND);
      expect(count(page, '<title>handshake-rejected, HTTP 503 at ')).toBe(MAX_MARKED_FAILURES_PER_KIND);
    },
  );

  it('says how many failures are not drawn and the bound per class and code', () => {
    const { run, page } = report('concurrency-cap');
    expect(run.timeline.failuresOmitted).toBeGreaterThan(0);
    expect(textOf(page, 'hint')).toContain(
      `${run.timeline.failures.length} failures are marked and ${run.timeline.failuresOmitted} more are counted ` +
        `but not drawn (at most ${MAX_MARKED_FAILURES_PER_KIND} per class and code).`,
    );
  });

  it('tabulates handshake latency per stage and failures by class and status', () => {
    const { run, page } = report('concurrency-cap');
    const stages = textOf(page, 'stages');
    for (const stage of run.stages) {
      const p95 = stage.handshakeMs.p95 === null ? '–' : stage.handshakeMs.p95.toFixed(1);
      expect(stages).toContain(`${stage.index + 1} ${stage.target} ${stage.opened} ${stage.openAtEnd} ${stage.failed}`);
      expect(stages).toContain(p95);
    }
    const last = run.stages.at(-1)!;
    expect(stages).toContain(
      `${last.index + 1} ${last.target} ${last.opened} ${last.openAtEnd} ${last.failed} handshake-rejected ` +
        `${last.failed} no – – –`,
    );
    const failures = textOf(page, 'failures');
    expect(failures).toContain(
      `handshake-rejected ${run.failures.total} the upgrade was answered with an HTTP error status`,
    );
    expect(failures).toContain(`503 ${run.failures.total} Service Unavailable`);
  });

  it('tells a queueing cap by the handshakes that were never answered', () => {
    const { run, page } = report('queueing-cap');
    expect(textOf(page, 'headline')).toBe(
      'OK The server stopped answering upgrades (handshake timeouts) once 40 connections were open: a concurrency cap.',
    );
    expect(markersOf(page, 'handshake-timeout')).toBe(run.failures.byClass['handshake-timeout']);
    expect(textOf(page, 'failures')).toContain(
      `handshake-timeout ${run.failures.total} TCP connected, but the upgrade was never answered`,
    );
  });

  it(
    'shows a rate limit with its Retry-After and the handshakes per second it let through, under a failed ' + 'floor',
    () => {
      const { run, page } = report('handshake-rate-limit');
      const rate = run.limitingFactor?.evidence.sustainableHandshakesPerSecond;
      expect(textOf(page, 'headline')).toBe(
        'BELOW FLOOR The server refused upgrades with HTTP 429 (Retry-After 3) while connections kept opening at ' +
          `about ${rate} per second: a handshake rate limit, not a cap on open connections.`,
      );
      expect(textOf(page, 'figures')).toContain(
        `Ceiling >= ${run.ceiling.value} a lower bound set by the handshake rate (it let about ${rate} ` +
          `handshakes/s through; this run opened ${run.settings.connectRate}/s), not a cap on open connections: ramp ` +
          `more slowly (--rate) to measure the ceiling; required at least ${run.settings.minCeiling}`,
      );
      const evidence = textOf(page, 'evidence');
      expect(evidence).toContain('Retry-After 3');
      expect(evidence).toContain(`Handshakes per second while refusing ${rate} (the rate the target let through)`);
      expect(markersOf(page, 'handshake-rejected')).toBe(run.timeline.failures.length);
    },
  );

  it('gives an idle timeout as a duration with the spread of idle ages, and no ceiling', () => {
    const { run, page } = report('idle-timeout');
    const value = run.limitingFactor?.valueSeconds?.toFixed(1);
    expect(textOf(page, 'headline')).toBe(
      `INCONCLUSIVE The server dropped connections without a close frame ${value} s after their last frame, ` +
        'whatever the open count: an idle timeout, so no ceiling was measured.',
    );
    expect(textOf(page, 'figures')).toContain('Ceiling none not measured: a duration limit is not a capacity ceiling');
    expect(textOf(page, 'evidence')).toMatch(
      new RegExp(
        'Age since the last frame at the drop median \\d\\.\\d s, from \\d\\.\\d s to \\d\\.\\d s over ' +
          `${run.failures.total} drops`,
      ),
    );
    expect(textOf(page, 'failures')).toContain(`1006 ${run.failures.total} no close frame: the connection was cut`);
    expect(markersOf(page, 'abnormal-closure')).toBe(run.failures.total);
    expect(count(page, 'class="stage-step"')).toBe(1);
  });

  it('gives a maximum lifetime with its close code and connection ages', () => {
    const { run, page } = report('max-lifetime');
    const value = run.limitingFactor?.valueSeconds?.toFixed(1);
    expect(textOf(page, 'headline')).toBe(
      `INCONCLUSIVE The server closed connections with close code 1001 ${value} s after they opened, even with ` +
        'heartbeats: a maximum connection lifetime, so no ceiling was measured.',
    );
    expect(textOf(page, 'evidence')).toMatch(/Age since open at the drop median \d\.\d s/);
    expect(markersOf(page, 'server-close')).toBe(run.failures.total);
    expect(count(page, '<title>server-close, close 1001 at ')).toBe(run.failures.total);
  });

  it('tells server degradation by pongs that stopped and handshakes that slowed under load', () => {
    const { run, page } = report('server-degradation');
    const p95 = run.limitingFactor?.evidence.handshakeP95Ms;
    expect(textOf(page, 'headline')).toBe(
      `OK The server dropped open connections (pong timeout × ${run.failures.total}) once ${run.dropOnset} were ` +
        `open, instead of refusing new ones, and handshakes slowed from p95 ${formatMs(p95?.first ?? null)} ms ` +
        `to ${formatMs(p95?.failing ?? null)}` +
        ' ms: server degradation.',
    );
    expect(textOf(page, 'failures')).toContain(`pong-timeout ${run.failures.total} no pong came in time after a ping`);
    expect(textOf(page, 'evidence')).toContain(
      `Handshake p95 ${formatMs(p95?.first ?? null)} ms in the first stage, ${formatMs(p95?.failing ?? null)} ms ` +
        'in the failing stage',
    );
    expect(markersOf(page, 'pong-timeout')).toBe(run.failures.total);
  });

  it('says a probe-limited run says nothing about the target, with the error code', () => {
    const { run, page } = report('probe-limited');
    expect(textOf(page, 'headline')).toBe(
      `INCONCLUSIVE The probe itself ran out (EMFILE) at ${run.dropOnset} open connections: this run says ` +
        `nothing about the target's limit.`,
    );
    expect(textOf(page, 'failures')).toContain(
      `EMFILE ${run.failures.byErrorCode.EMFILE} the probe process ran out of file descriptors`,
    );
    expect(markersOf(page, 'probe-limited')).toBe(run.failures.byClass['probe-limited']);
    expect(textOf(page, 'figures')).toContain(
      `Drops began at ${run.dropOnset} open connections, when the probe itself ran out (not the target)`,
    );
  });

  it.each(['config-error', 'unreachable'] as const)(
    'makes the cards of the failed %s run agree: the probe failed, no drop was measured',
    (name) => {
      const figures = textOf(report(name).page, 'figures');
      expect(figures).toContain('Ceiling none not measured: the probe could not measure one');
      expect(figures).toMatch(
        /Drops began not measured the probe failed \((configuration error|target unreachable)\): nothing about the target's connections was measured/,
      );
      expect(figures).not.toContain('no failure of a limiting kind');
    },
  );

  it('reports a config error and an unreachable target as probe failures with their status or error code', () => {
    expect(textOf(report('config-error').page, 'headline')).toBe(
      'FAILED The target refused the first connection with HTTP 401: a configuration problem (URL, headers or ' +
        'subprotocol), not a ceiling.',
    );
    const unreachable = report('unreachable').page;
    expect(textOf(unreachable, 'headline')).toBe(
      'FAILED The target could not be reached (ECONNREFUSED) before any connection opened: nothing was measured.',
    );
    expect(unreachable).toContain('No connection opened.');
    expect(markersOf(unreachable, 'unreachable')).toBe(1);
  });

  it('reports a run that held every stage as a ceiling of at least its maximum', () => {
    const { run, page } = report('held');
    const maximum = run.ceiling.value;
    expect(textOf(page, 'headline')).toBe(
      `OK Every stage held: ${maximum} connections stayed open with no failures, so the ceiling is at least ` +
        `${maximum}; no limit was found.`,
    );
    expect(textOf(page, 'figures')).toContain(`>= ${maximum} the plan's maximum held: no limit found`);
    expect(textOf(page, 'figures')).toContain('Drops began no drops no failure of a limiting kind');
    expect(textOf(page, 'failures')).toBe('Failures No connection failed.');
    expect(count(page, 'class="failure-marker"')).toBe(0);
  });

  it('shows header names but never a header value, URL credential or query value of the recorded run', async () => {
    const { page } = report('concurrency-cap');
    expect(textOf(page, 'settings')).toContain('Headers sent Authorization (values never stored)');
    expect(page).toContain('/socket?token=redacted&amp;room=redacted');
    for (const secret of FIXTURE_SECRETS) expect(page).not.toContain(secret);
    for (const file of await readdir(FIXTURE_RUNS_DIRECTORY)) {
      const text = await readFile(path.join(FIXTURE_RUNS_DIRECTORY, file), 'utf8');
      for (const secret of FIXTURE_SECRETS) expect(text).not.toContain(secret);
    }
  });

  it('escapes every string of the run, so none can add markup', () => {
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';
    const run: RunResult = {
      ...cappedRun,
      targetId: hostile,
      runId: `run-${hostile}`,
      url: `wss://chat.example.com/${encodeURIComponent('"><b>')}?token=redacted`,
      verdictReason: hostile,
      limitingFactor: cappedRun.limitingFactor && {
        ...cappedRun.limitingFactor,
        summary: `</style>${hostile}`,
        evidence: { ...cappedRun.limitingFactor.evidence, retryAfter: [hostile], message: hostile },
      },
      failures: { ...cappedRun.failures, byErrorCode: { [hostile]: 1 }, byCloseCode: { [hostile]: 2 } },
      settings: { ...cappedRun.settings, headerNames: [hostile], subprotocols: [hostile] },
      timeline: {
        ...cappedRun.timeline,
        failures: [{ atMs: 10, failureClass: 'connect-error', open: 3, errorCode: hostile }],
      },
    };
    const page = renderHtmlReport(run, {
      generatedAt: GENERATED_AT,
      history: [{ ...heldRun, targetId: hostile, runId: hostile }],
    });
    const tags = [...page.matchAll(/<\/?([a-zA-Z][\w-]*)/g)].map((match) => (match[1] ?? '').toLowerCase());
    expect(tags.filter((tag) => !REPORT_TAGS.has(tag))).toEqual([]);
    expect(page).not.toMatch(/<[^>]*onerror/);
    expect(count(page, '</style>')).toBe(1);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;');
  });

  it('says once, for a regressed run, how far under its baseline it fell', () => {
    const ceiling = cappedRun.ceiling.value as number;
    const regressed = { ...withBaseline(cappedRun, ceiling * 2, 7), verdict: 'regressed' as const };
    const page = renderHtmlReport(regressed, { generatedAt: GENERATED_AT });
    const text = textOf(page, 'baseline');
    expect(text).toBe(`Baseline The ceiling regressed. ${describeRegression(ceiling, regressed.baseline!)}`);
    expect(text.split(`baseline of ${ceiling * 2}`).length - 1).toBe(1);
    expect(text.split('median of').length - 1).toBe(1);
    expect(textOf(page, 'figures')).toContain(
      `Baseline ${ceiling * 2} this run is ${formatPercent(0.5)} of it (${formatChange(-0.5)})`,
    );
  });

  it('shows the baseline of a run that did not regress', () => {
    const judged = withBaseline(cappedRun, (cappedRun.ceiling.value as number) + 1, 4);
    expect(textOf(renderHtmlReport(judged, { generatedAt: GENERATED_AT }), 'baseline')).toBe(
      `Baseline Baseline ceiling ${formatBaseline(judged.baseline!)}. Not a regression.`,
    );
  });

  it(
    'says which reason leaves a run without a baseline: no ceiling, or how few earlier comparable runs are ' + 'stored',
    () => {
      const baselineOf = (run: RunResult, history: RunResult[] = []) =>
        textOf(renderHtmlReport(run, { generatedAt: GENERATED_AT, history }), 'baseline');
      const idle = loadRecordedRun('idle-timeout');
      expect(baselineOf(idle)).toBe(
        'Baseline No baseline: this run measured no ceiling (verdict inconclusive), so there is nothing to compare ' +
          'with earlier runs.',
      );
      expect(baselineOf(cappedRun)).toBe(
        `Baseline No baseline yet: no earlier comparable run of ${cappedRun.targetId} was stored (same settings, ` +
          `completed with a ceiling); a baseline needs ${MIN_BASELINE_RUNS}.`,
      );
      const earlier = [
        rerun(cappedRun, 'earlier-1', '2000-01-01T00:00:00.000Z'),
        rerun(cappedRun, 'earlier-2', '2000-01-02T00:00:00.000Z'),
        rerun(cappedRun, 'other-settings', '2000-01-03T00:00:00.000Z', { configHash: 'other' }),
        rerun(idle, 'no-ceiling', '2000-01-04T00:00:00.000Z', {
          targetId: cappedRun.targetId,
          configHash: cappedRun.configHash,
        }),
      ];
      expect(baselineOf(cappedRun, [cappedRun, ...earlier])).toContain(
        `only 2 earlier comparable runs of ${cappedRun.targetId} were stored`,
      );
    },
  );

  it('says a run stored before timelines existed has none, instead of drawing an empty chart', () => {
    const page = renderHtmlReport(
      { ...cappedRun, timeline: { open: [], stages: [], failures: [], failuresOmitted: 0 } },
      { generatedAt: GENERATED_AT },
    );
    expect(textOf(page, 'timeline')).toContain(
      'No timeline was recorded with this run: it was stored by an earlier version of ws-ceiling.',
    );
    expect(page).not.toContain('<svg');
    expect(textOf(renderHtmlReport(cappedRun, { generatedAt: GENERATED_AT }), 'timeline')).not.toContain('No timeline');
  });

  it('heads the history bar column "trend", so only one column is headed "ceiling"', () => {
    const run = loadRecordedRun('concurrency-cap');
    const page = renderHtmlReport(run, {
      generatedAt: GENERATED_AT,
      history: [run, rerun(run, 'older-run', '2000-01-01T00:00:00.000Z')],
    });
    const headers = [...page.matchAll(/<section class="history">[\s\S]*?<\/thead>/g)][0]?.[0] ?? '';
    expect([...headers.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((match) => match[1])).toEqual([
      'started',
      'verdict',
      'ceiling',
      'baseline',
      'change',
      'cause',
      'trend',
    ]);
  });

  it('repeats a run of the bundled simulator with --simulate and names the spec in the settings', () => {
    const { run, page } = report('server-degradation');
    const settings = textOf(page, 'settings');
    expect(settings).toContain(
      `Simulator the bundled simulator, --simulate ${run.settings.simulate} (its port was free for this run only)`,
    );
    expect(settings).toContain(
      `ws-ceiling run --target-id ${run.targetId} --simulate ${run.settings.simulate} --stages`,
    );
    expect(settings).toContain('To run it again:');
    const capped = textOf(report('concurrency-cap').page, 'settings');
    expect(capped).toContain('To run it again (fill in each <value> and the query values shown as redacted');
    expect(capped).not.toContain('--simulate');
  });

  it('draws the history trend of the target, newest first, marking this run', () => {
    const run = loadRecordedRun('concurrency-cap');
    const older = {
      ...run,
      runId: 'older-run',
      startedAt: '2026-01-01T00:00:00.000Z',
      ceiling: { value: 40, reached: true },
      verdict: 'ok' as const,
    };
    const page = renderHtmlReport(run, { generatedAt: GENERATED_AT, history: [run, older] });
    const history = textOf(page, 'history');
    expect(history).toContain('2026-01-01 00:00:00 UTC OK 40');
    expect(history).toContain(`UTC this run OK 60 – ${formatChange(0.5)} concurrency-cap`);
    expect(history.indexOf('this run')).toBeLessThan(history.indexOf('2026-01-01'));
    expect(textOf(report('concurrency-cap').page, 'history')).toContain(
      'This is the only stored run of chat-sim so far.',
    );
  });
});

describe('renderTimelineChart', () => {
  it('draws only the stages that ran, though the plan had more', () => {
    const run = loadRecordedRun('idle-timeout');
    expect(run.timeline.stages).toHaveLength(2);
    const chart = renderTimelineChart(run).markup;
    expect(count(chart, 'class="stage-step"')).toBe(1);
    expect(chart).toContain('stage 1 · 10');
  });

  it('names each kind of failure, class and code, in the legend with its count, those left unmarked included', () => {
    const chart = renderTimelineChart(cappedRun).markup;
    expect(cappedRun.timeline.failuresOmitted).toBeGreaterThan(0);
    expect(count(chart, 'class="legend-swatch"')).toBe(1);
    expect(chart).toContain(`handshake-rejected · HTTP 503 × ${cappedRun.failures.byStatus['503']}</text>`);
    expect(markersOf(chart, 'handshake-rejected')).toBe(MAX_MARKED_FAILURES_PER_KIND);
  });

  it.each(SCENARIOS.map((scenario) => scenario.name))(
    'counts every failure of the recorded %s run in the legend',
    (name) => {
      const run = loadRecordedRun(name);
      const counts = [
        ...renderTimelineChart(run).markup.matchAll(/<text x="30" y="4">[^<]* × (\d+)[^<]*<\/text>/g),
      ].map((match) => Number(match[1]));
      expect(counts.reduce((sum, value) => sum + value, 0)).toBe(run.failures.total);
    },
  );

  it('says in the legend that handshake timeouts are marked when the timeout ran out, not at the attempt', () => {
    const queue = loadRecordedRun('queueing-cap');
    expect(renderTimelineChart(queue).markup).toContain(
      `handshake-timeout × ${queue.failures.total}, marked when the ${queue.settings.handshakeTimeoutSeconds} s ` +
        'timeout ran out</text>',
    );
  });

  it('marks the first failure of the limiting kind with a rule at its open count', () => {
    const chart = renderTimelineChart(loadRecordedRun('concurrency-cap')).markup;
    expect(count(chart, 'class="onset-rule"')).toBe(1);
    expect(chart).toContain('first handshake-rejected at 60 open');
    expect(renderTimelineChart(loadRecordedRun('held')).markup).not.toContain('onset-rule');
  });

  it('labels both axes', () => {
    const chart = renderTimelineChart(loadRecordedRun('held')).markup;
    expect(chart).toContain('seconds since the run started');
    expect(chart).toContain('open connections</text>');
  });
});

describe('escapeHtml', () => {
  it('replaces the five characters that can end text or an attribute', () => {
    expect(escapeHtml(`<a href="x">Tom & 'Jerry'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;',
    );
  });
});

describe('html', () => {
  it('escapes interpolated strings and numbers, keeps nested markup, joins arrays and drops empty values', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p title="${'"x"'}">${inner}${[1, ' & ', 2]}${null}${undefined}${false}</p>`.markup).toBe(
      '<p title="&quot;x&quot;"><b>&lt;i&gt;</b>1 &amp; 2</p>',
    );
  });
});

describe('reportCommand', () => {
  let store: { directory: string; remove: () => Promise<void> };
  beforeEach(async () => {
    store = await temporaryStore();
  });
  afterEach(async () => {
    await store.remove();
  });

  async function storeRuns(runs: readonly RunResult[]): Promise<void> {
    const local = await openLocalStore(store.directory);
    try {
      for (const run of runs) await local.store.putRun(run);
    } finally {
      await local.close();
    }
  }

  async function report(
    name: string,
    flags: { targetId?: string; out?: string } = {},
  ): Promise<{ file: string; page: string }> {
    let printed = '';
    const out = flags.out ?? path.join(store.directory, 'report.html');
    const code = await reportCommand(
      name,
      { ...flags, out, store: store.directory },
      { stdout: { write: (text: string) => (printed += text) } },
    );
    expect(code).toBe(0);
    const file = printed.trim();
    return { file, page: await readFile(file, 'utf8') };
  }

  it('writes the newest run, or the newest of --target-id, and prints the absolute path it wrote', async () => {
    const cap = loadRecordedRun('concurrency-cap');
    const held = loadRecordedRun('held');
    const olderCap = {
      ...cap,
      runId: 'a1b2c3d4-older',
      startedAt: '2026-01-01T00:00:00.000Z',
      ceiling: { value: 40, reached: true },
    };
    await storeRuns([olderCap, cap, held]);
    const newestFirst = [cap, held].sort((a, b) => b.startedAt.localeCompare(a.startedAt));

    const latest = await report('latest');
    expect(latest.file).toBe(path.join(store.directory, 'report.html'));
    expect(latest.page).toContain(`<code>${newestFirst[0]?.runId}</code>`);

    const ofTarget = await report('latest', { targetId: 'chat-sim', out: path.join(store.directory, 'cap.html') });
    expect(ofTarget.page).toContain(`<code>${cap.runId}</code>`);
    expect(textOf(ofTarget.page, 'history')).toContain('2026-01-01 00:00:00 UTC OK 40');
  });

  it('finds a run by a unique start of its id and shows only the runs up to it in the history', async () => {
    const cap = loadRecordedRun('concurrency-cap');
    const newer = { ...cap, runId: 'ffff0000-newer', startedAt: '2099-01-01T00:00:00.000Z' };
    await storeRuns([cap, newer]);
    const { page } = await report(cap.runId.slice(0, 8));
    expect(page).toContain(`<code>${cap.runId}</code>`);
    expect(page).not.toContain('ffff0000-newer');
    expect(textOf(page, 'history')).toContain('This is the only stored run of chat-sim so far.');
  });

  it(
    'refuses an unknown run id, and an --out that cannot be written before reading the store, naming the ' + 'argument',
    async () => {
      await storeRuns([loadRecordedRun('held')]);
      await expect(report('no-such-run')).rejects.toThrow(InvalidInputError);
      await expect(report('no-such-run')).rejects.toThrow('<run>: no run "no-such-run"');
      const missing = path.join(store.directory, 'missing', 'report.html');
      await expect(report('no-such-run', { out: missing })).rejects.toThrow(
        `--out: cannot write "${missing}": the directory "${path.dirname(missing)}" does not exist`,
      );
      await expect(report('latest', { out: '/proc/report.html' })).rejects.toThrow(
        '--out: cannot write "/proc/report.html": the directory "/proc" does not let files be created in it (ENOENT)',
      );
    },
  );

  it('refuses a --store directory that does not exist, naming the flag and the path, and creates nothing', async () => {
    const missing = path.join(store.directory, 'mistyped');
    await expect(reportCommand('latest', { store: missing }, { stdout: { write: () => true } })).rejects.toThrow(
      `--store: no run store at "${missing}": the directory does not exist (ws-ceiling run creates it; check the path)`,
    );
    expect(await readdir(store.directory)).toEqual([]);
  });

  it('names the default file after the run id', () => {
    expect(defaultReportFile('0df9c61b')).toBe('ws-ceiling-report-0df9c61b.html');
  });
});
