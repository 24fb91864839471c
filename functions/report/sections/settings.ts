/**
 * The plan and settings section of the HTML report: every setting the run
 * was probed with (secrets removed), the run's identity, and the command
 * that runs it again, with what the reader must fill in.
 */
import { REDACTED } from '../../engine/redact.js';
import type { RunResult } from '../../engine/types.js';
import { describeCeiling, formatUtc } from '../format.js';
import { html, type HtmlValue, type SafeHtml } from '../html-escape.js';
import { reproduceWords, VALUE_PLACEHOLDER, valuesToFillIn } from '../settings-flags.js';
import { factRows } from './markup.js';

/** The settings of `run` and the command that reproduces it. */
export function settingsSection(run: RunResult): SafeHtml {
  const words = reproduceWords(run).map((word, i) => html`${i ? ' ' : ''}<span class="word">${word}</span>`);
  return html`<section class="settings">
<h2>Plan and settings</h2>
<dl class="facts">${factRows(settingFacts(run))}</dl>
<p class="hint">To run it again${fillInNote(run)}:</p>
<pre class="command"><code>${words}</code></pre>
</section>`;
}

/** Each setting as a name–value pair, the simulator only when the run probed one. */
function settingFacts(run: RunResult): Array<[string, HtmlValue]> {
  const { settings } = run;
  const { heartbeat } = settings;
  const heartbeatWords =
    heartbeat.kind === 'off'
      ? 'none'
      : heartbeat.kind === 'ping'
        ? `protocol ping every ${heartbeat.intervalSeconds} s, pong timeout ${heartbeat.pongTimeoutSeconds} s`
        : `application message every ${heartbeat.intervalSeconds} s`;
  const tolerance =
    settings.tolerance.kind === 'percent'
      ? `${settings.tolerance.value} % of each stage's target`
      : `${settings.tolerance.value} failures per stage`;
  const simulator = html`the bundled simulator, <code>--simulate ${settings.simulate}</code> (its port was free for
this run only)`;
  const headers = html`${settings.headerNames.map((name, i) => html`${i ? ', ' : ''}<code>${name}</code>`)}`;
  const times = `${formatUtc(run.startedAt)} to ${formatUtc(run.finishedAt)}`;
  return [
    ['Target URL', html`<code class="url">${run.url}</code> (credentials removed, query values redacted)`],
    ...(settings.simulate !== undefined ? [['Simulator', simulator] as [string, HtmlValue]] : []),
    ['Stages', settings.stages.join(' → ')],
    ['Hold', `${settings.holdSeconds} s per stage`],
    [
      'Connect rate',
      `${settings.connectRate} new connections per second, at most ${settings.maxInFlight} handshakes in flight`,
    ],
    ['Handshake timeout', `${settings.handshakeTimeoutSeconds} s`],
    ['Heartbeat', heartbeatWords],
    ['Headers sent', settings.headerNames.length ? html`${headers} (values never stored)` : 'none'],
    ['Subprotocols', settings.subprotocols.length ? settings.subprotocols.join(', ') : 'none'],
    ...(settings.sourceAddresses?.length
      ? [['Source addresses', `${settings.sourceAddresses.join(', ')}, taken in turn`] as [string, HtmlValue]]
      : []),
    ...sessionFacts(run),
    ['Tolerance', tolerance],
    ['Minimum ceiling (gate)', settings.minCeiling === undefined ? 'none' : String(settings.minCeiling)],
    ['Safety cap', `${settings.maxConnections} connections`],
    ['Shards', `${settings.shards} of at most ${settings.shardSize} connections`],
    ['Ceiling in words', describeCeiling(run)],
    ['Run', html`<code>${run.runId}</code>, ${times}, region ${run.region}`],
    ['Probe version · config hash', html`${run.probeVersion} · <code>${run.configHash}</code>`],
  ];
}

/** The session, URL provider and signing a run used, when it did. */
function sessionFacts({ settings }: RunResult): Array<[string, HtmlValue]> {
  const facts: Array<[string, HtmlValue]> = [];
  const { session, sessionUrlSource: source, sigv4 } = settings;
  if (source) {
    const headers = source.headerNames.length ? `, headers ${source.headerNames.join(', ')} (values never stored)` : '';
    const rate = source.ratePerSecond === undefined ? '' : `, at most ${source.ratePerSecond} calls per second`;
    const timeout = `, timeout ${source.timeoutSeconds} s`;
    facts.push([
      'URL per connection',
      html`<code>${source.from}</code> → <code>${source.path}</code>${headers}${rate}${timeout}`,
    ]);
  }
  if (sigv4) facts.push(['Signing', `SigV4 for ${sigv4.region}, service ${sigv4.service}`]);
  if (session) {
    const ready =
      session.readyWhen === undefined
        ? 'open at the upgrade'
        : html`open once a message matches <code>${session.readyWhen}</code>, within ${session.readyTimeoutSeconds} s`;
    const count = session.initMessages;
    facts.push(['Session', html`${count} init message${count === 1 ? '' : 's'} (never stored), ${ready}`]);
  }
  return facts;
}

/** ` (fill in each <value> and the query values shown as redacted)`, or nothing when the command is complete. */
function fillInNote(run: RunResult): SafeHtml | string {
  const { placeholders, redactedQuery } = valuesToFillIn(run);
  const missing = [
    ...(placeholders ? [html`each <code>${VALUE_PLACEHOLDER}</code>`] : []),
    ...(redactedQuery ? [html`the query values shown as <code>${REDACTED}</code>`] : []),
  ];
  return missing.length ? html` (fill in ${missing.map((part, i) => html`${i ? ' and ' : ''}${part}`)})` : '';
}
