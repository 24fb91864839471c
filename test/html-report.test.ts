import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultReportFile, reportCommand } from '../bin/cli/report-command.js';
import { openLocalStore } from '../bin/cli/local-store.js';
import { InvalidInputError } from '../functions/engine/errors.js';
import type { FailureClass, RunResult } from '../functions/engine/types.js';
import { describeRegression } from '../functions/engine/baseline.js';
import { formatBaseline, formatChange, formatPercent } from '../functions/report/format.js';
import { escapeHtml, html } from '../functions/report/html-escape.js';
import { describeCause, renderHtmlReport } from '../functions/report/html-report.js';
import { renderTimelineChart } from '../functions/report/timeline-chart.js';
import { FIXTURE_RUNS_DIRECTORY, FIXTURE_SECRETS, loadRecordedRun, SCENARIOS, type ScenarioName } from './fixtures/simulator-runs.js';
import { temporaryStore } from './support/cli.js';
import { cappedRun, heldRun } from './support/run-results.js';

const GENERATED_AT = '2026-11-22T12:00:00.000Z';

/** Every tag the report itself writes; anything else came from a string that escaped escaping. */
const REPORT_TAGS = new Set([
  'html', 'head', 'meta', 'title', 'style', 'body', 'main', 'header', 'footer', 'section', 'p', 'h1', 'h2', 'br', 'code', 'pre',
  'strong', 'span', 'dl', 'div', 'dt', 'dd', 'figure', 'table', 'caption', 'thead', 'tbody', 'tr', 'th', 'td',
  'svg', 'g', 'line', 'text', 'rect', 'path',
]);

function report(name: ScenarioName, history?: RunResult[]): { run: RunResult; page: string } {
  const run = loadRecordedRun(name);
  return { run, page: renderHtmlReport(run, { generatedAt: GENERATED_AT, ...(history ? { history } : {}) }) };
}

/** The text of the first element with `className`, tags stripped and entities decoded. */
function textOf(page: string, className: string): string {
  const match = new RegExp(`<(\\w+) class="${className}"[^>]*>([\\s\\S]*?)</\\1>`).exec(page);
  if (!match) throw new Error(`no element with class ${className}`);
  return decode((match[2] ?? '').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
}

function decode(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

function count(page: string, fragment: string): number {
  return page.split(fragment).length - 1;
}

function markersOf(page: string, failureClass: FailureClass): number {
  return count(page, `class="failure-marker" data-class="${failureClass}"`);
}

describe('renderHtmlReport', () => {
  it.each(SCENARIOS.map((scenario) => scenario.name))('writes a self-contained page for the recorded %s run: no script, nothing fetched, no web address', (name) => {
    const { page } = report(name);
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|@import/i);
    expect(page.match(/https?:\/\//gi)).toBeNull();
    expect(page).toContain(`default-src 'none'`);
  });

  it('puts the verdict, ceiling, drop onset and cause in plain words at the top of a capped run', () => {
    const { page } = report('concurrency-cap');
    expect(textOf(page, 'headline')).toBe('OK The server refused upgrades with HTTP 503 once 60 connections were open: a concurrency cap.');
    const figures = textOf(page, 'figures');
    expect(figures).toContain('Ceiling 60 held 1 s within tolerance');
    expect(figures).toContain('Drops began at 60 open connections');
    expect(figures).toContain('Limiting factor concurrency cap concurrency-cap');
    expect(page.indexOf('class="headline"')).toBeLessThan(page.indexOf('class="timeline-chart"'));
  });

  it('draws the capped run as one stage step per stage and one marker per marked refusal, with the 503 in each hover title', () => {
    const { run, page } = report('concurrency-cap');
    expect(count(page, 'class="stage-step"')).toBe(4);
    expect(markersOf(page, 'handshake-rejected')).toBe(run.timeline.failures.length);
    expect(run.timeline.failures.length).toBe(20);
    expect(count(page, '<title>handshake-rejected, HTTP 503 at ')).toBe(20);
  });

  it('tabulates handshake latency per stage and failures by class and status', () => {
    const { run, page } = report('concurrency-cap');
    const stages = textOf(page, 'stages');
    for (const stage of run.stages) {
      const p95 = stage.handshakeMs.p95 === null ? '–' : stage.handshakeMs.p95.toFixed(1);
      expect(stages).toContain(`${stage.index + 1} ${stage.target} ${stage.opened} ${stage.openAtEnd} ${stage.failed}`);
      expect(stages).toContain(p95);
    }
    expect(stages).toContain('4 80 0 60 20 handshake-rejected 20 no – – –');
    const failures = textOf(page, 'failures');
    expect(failures).toContain('handshake-rejected 20 the upgrade was answered with an HTTP error status');
    expect(failures).toContain('503 20 Service Unavailable');
  });

  it('tells a queueing cap by the handshakes that were never answered', () => {
    const { run, page } = report('queueing-cap');
    expect(textOf(page, 'headline')).toBe('OK The server stopped answering upgrades (handshake timeouts) once 40 connections were open: a concurrency cap.');
    expect(markersOf(page, 'handshake-timeout')).toBe(run.failures.byClass['handshake-timeout']);
    expect(textOf(page, 'failures')).toContain('handshake-timeout 20 TCP connected, but the upgrade was never answered');
  });

  it('shows a rate limit with its Retry-After and the handshakes per second it let through, under a failed floor', () => {
    const { run, page } = report('handshake-rate-limit');
    const rate = run.limitingFactor?.evidence.sustainableHandshakesPerSecond;
    expect(textOf(page, 'headline')).toBe(
      `BELOW FLOOR The server refused upgrades with HTTP 429 (Retry-After 3) while connections kept opening at about ${rate} per second: a handshake rate limit, not a cap on open connections.`,
    );
    expect(textOf(page, 'figures')).toContain('Ceiling 20 held 1 s within tolerance; required at least 50');
    const evidence = textOf(page, 'evidence');
    expect(evidence).toContain('Retry-After 3');
    expect(evidence).toContain(`Handshakes per second while refusing ${rate} (the rate the target let through)`);
    expect(markersOf(page, 'handshake-rejected')).toBe(run.failures.byClass['handshake-rejected']);
  });

  it('gives an idle timeout as a duration with the spread of idle ages, and no ceiling', () => {
    const { run, page } = report('idle-timeout');
    const value = run.limitingFactor?.valueSeconds?.toFixed(1);
    expect(textOf(page, 'headline')).toBe(
      `INCONCLUSIVE The server dropped connections without a close frame ${value} s after their last frame, whatever the open count: an idle timeout, so no ceiling was measured.`,
    );
    expect(textOf(page, 'figures')).toContain('Ceiling none not measured: a duration limit is not a capacity ceiling');
    expect(textOf(page, 'evidence')).toMatch(/Age since the last frame at the drop median \d\.\d s, from \d\.\d s to \d\.\d s over 10 drops/);
    expect(textOf(page, 'failures')).toContain('1006 10 no close frame: the connection was cut');
    expect(markersOf(page, 'abnormal-closure')).toBe(10);
    expect(count(page, 'class="stage-step"')).toBe(1);
  });

  it('gives a maximum lifetime with its close code and connection ages', () => {
    const { run, page } = report('max-lifetime');
    const value = run.limitingFactor?.valueSeconds?.toFixed(1);
    expect(textOf(page, 'headline')).toBe(
      `INCONCLUSIVE The server closed connections with close code 1001 ${value} s after they opened, even with heartbeats: a maximum connection lifetime, so no ceiling was measured.`,
    );
    expect(textOf(page, 'evidence')).toMatch(/Age since open at the drop median \d\.\d s/);
    expect(markersOf(page, 'server-close')).toBe(10);
    expect(count(page, '<title>server-close, close 1001 at ')).toBe(10);
  });

  it('tells server degradation by open connections dropped with 1011', () => {
    const { page } = report('server-degradation');
    expect(textOf(page, 'headline')).toBe(
      'OK The server dropped open connections (close 1011 × 10) once 20 were open, instead of refusing new ones: server degradation.',
    );
    expect(textOf(page, 'failures')).toContain('1011 10 internal server error');
    expect(markersOf(page, 'server-close')).toBe(10);
  });

  it('says a probe-limited run says nothing about the target, with the error code', () => {
    const { run, page } = report('probe-limited');
    expect(textOf(page, 'headline')).toBe(
      `INCONCLUSIVE The probe itself ran out (EMFILE) at ${run.dropOnset} open connections: this run says nothing about the target's limit.`,
    );
    expect(textOf(page, 'failures')).toContain('EMFILE 1 the probe process ran out of file descriptors');
    expect(markersOf(page, 'probe-limited')).toBe(1);
  });

  it('reports a config error and an unreachable target as probe failures with their status or error code', () => {
    expect(textOf(report('config-error').page, 'headline')).toBe(
      'FAILED The target refused the first connection with HTTP 401: a configuration problem (URL, headers or subprotocol), not a ceiling.',
    );
    const unreachable = report('unreachable').page;
    expect(textOf(unreachable, 'headline')).toBe('FAILED The target could not be reached (ECONNREFUSED) before any connection opened: nothing was measured.');
    expect(unreachable).toContain('No connection opened.');
    expect(markersOf(unreachable, 'unreachable')).toBe(1);
  });

  it('reports a run that held every stage as a ceiling of at least its maximum', () => {
    const { page } = report('held');
    expect(textOf(page, 'headline')).toBe('OK Every stage held: 20 connections stayed open with no failures, so the ceiling is at least 20; no limit was found.');
    expect(textOf(page, 'figures')).toContain(">= 20 the plan's maximum held: no limit found");
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
      timeline: { ...cappedRun.timeline, failures: [{ atMs: 10, failureClass: 'connect-error', open: 3, errorCode: hostile }] },
    };
    const page = renderHtmlReport(run, { generatedAt: GENERATED_AT, history: [{ ...heldRun, targetId: hostile, runId: hostile }] });
    const tags = [...page.matchAll(/<\/?([a-zA-Z][\w-]*)/g)].map((match) => (match[1] ?? '').toLowerCase());
    expect(tags.filter((tag) => !REPORT_TAGS.has(tag))).toEqual([]);
    expect(page).not.toMatch(/<[^>]*onerror/);
    expect(count(page, '</style>')).toBe(1);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;');
  });

  it('shows the baseline and whether the ceiling regressed against it', () => {
    const baseline = cappedRun.baseline;
    if (!baseline) throw new Error('the capped fixture has a baseline');
    const page = renderHtmlReport(cappedRun, { generatedAt: GENERATED_AT });
    expect(textOf(page, 'baseline')).toBe(`Baseline Baseline ceiling ${formatBaseline(baseline)}. The ceiling regressed. ${describeRegression(150, baseline)}`);
    expect(textOf(page, 'figures')).toContain(`Baseline 200 this run is ${formatPercent(0.75)} of it (${formatChange(-0.25)})`);
    const held = renderHtmlReport({ ...cappedRun, ceiling: { value: 190, reached: true }, baseline: { ...baseline, ratio: 0.95 } }, { generatedAt: GENERATED_AT });
    expect(textOf(held, 'baseline')).toContain('Not a regression.');
    expect(textOf(report('held').page, 'baseline')).toContain('No baseline');
  });

  it('says a run stored before timelines existed has none, instead of drawing an empty chart', () => {
    const page = renderHtmlReport({ ...cappedRun, timeline: { open: [], stages: [], failures: [], failuresOmitted: 0 } }, { generatedAt: GENERATED_AT });
    expect(textOf(page, 'timeline')).toContain('No timeline was recorded with this run: it was stored by an earlier version of ws-ceiling.');
    expect(page).not.toContain('<svg');
    expect(textOf(renderHtmlReport(cappedRun, { generatedAt: GENERATED_AT }), 'timeline')).not.toContain('No timeline');
  });

  it('draws the history trend of the target, newest first, marking this run', () => {
    const run = loadRecordedRun('concurrency-cap');
    const older = { ...run, runId: 'older-run', startedAt: '2026-01-01T00:00:00.000Z', ceiling: { value: 40, reached: true }, verdict: 'ok' as const };
    const page = renderHtmlReport(run, { generatedAt: GENERATED_AT, history: [run, older] });
    const history = textOf(page, 'history');
    expect(history).toContain('2026-01-01 00:00:00 UTC OK 40');
    expect(history).toContain(`UTC this run OK 60 – ${formatChange(0.5)} concurrency-cap`);
    expect(history.indexOf('this run')).toBeLessThan(history.indexOf('2026-01-01'));
    expect(textOf(report('concurrency-cap').page, 'history')).toContain('This is the only stored run of chat-sim so far.');
  });
});

describe('describeCause', () => {
  it('falls back to the verdict reason when there is no limiting factor and no ceiling, as for a stopped run', () => {
    const stopped: RunResult = { ...heldRun, verdict: 'inconclusive', verdictReason: 'The run was stopped before it finished.', ceiling: { value: null, reached: false } };
    expect(describeCause(stopped)).toBe('The run was stopped before it finished.');
  });

  it('names the connect error codes of a cap that resets connections', () => {
    const capped = loadRecordedRun('concurrency-cap');
    const factor = capped.limitingFactor;
    if (!factor) throw new Error('the recorded cap run has no limiting factor');
    const resets: RunResult = {
      ...capped,
      limitingFactor: {
        ...factor,
        evidence: { ...factor.evidence, failures: { total: 5, byClass: { 'connect-error': 5 }, byStatus: {}, byCloseCode: {}, byErrorCode: { ECONNRESET: 5 } } },
      },
    };
    expect(describeCause(resets)).toBe('The server answered new connections with ECONNRESET once 60 connections were open: a concurrency cap.');
  });

  it("blames the probe's event loop when the probe was starved without an error code", () => {
    const starved: RunResult = {
      ...heldRun,
      limitingFactor: { kind: 'probe-limited', summary: 'starved', evidence: { failures: heldRun.failures, eventLoopDelayMaxMs: 812.4 } },
    };
    expect(describeCause(starved)).toBe(
      "The probe's own event loop was starved (delay up to 812.4 ms), so its timings cannot be trusted: this run says nothing about the target's limit.",
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

  it('lists each failure class in the legend with its count, and says how many failures were left off', () => {
    const chart = renderTimelineChart(cappedRun).markup;
    expect(count(chart, 'class="legend-swatch"')).toBe(2);
    expect(chart).toContain('handshake-rejected × 48');
    expect(chart).toContain('abnormal-closure × 2');
    expect(chart).toContain('49 more failures not marked');
    expect(markersOf(chart, 'handshake-rejected')).toBe(1);
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
    expect(escapeHtml(`<a href="x">Tom & 'Jerry'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;');
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

  async function report(name: string, flags: { targetId?: string; out?: string } = {}): Promise<{ file: string; page: string }> {
    let printed = '';
    const out = flags.out ?? path.join(store.directory, 'report.html');
    const code = await reportCommand(name, { ...flags, out, store: store.directory }, { stdout: { write: (text: string) => (printed += text) } });
    expect(code).toBe(0);
    const file = printed.trim();
    return { file, page: await readFile(file, 'utf8') };
  }

  it('writes the newest run, or the newest of --target-id, and prints the absolute path it wrote', async () => {
    const cap = loadRecordedRun('concurrency-cap');
    const held = loadRecordedRun('held');
    const olderCap = { ...cap, runId: 'a1b2c3d4-older', startedAt: '2026-01-01T00:00:00.000Z', ceiling: { value: 40, reached: true } };
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

  it('refuses an unknown run id and an --out in a missing directory, naming the argument', async () => {
    await storeRuns([loadRecordedRun('held')]);
    await expect(report('no-such-run')).rejects.toThrow(InvalidInputError);
    await expect(report('no-such-run')).rejects.toThrow('<run>: no run "no-such-run"');
    await expect(report('latest', { out: path.join(store.directory, 'missing', 'report.html') })).rejects.toThrow(/^--out: cannot write ".*missing\/report\.html": its directory does not exist$/);
  });

  it('names the default file after the run id', () => {
    expect(defaultReportFile('0df9c61b')).toBe('ws-ceiling-report-0df9c61b.html');
  });
});
