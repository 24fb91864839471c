/**
 * The evidence section of the HTML report: the limiting factor's stored
 * summary and every fact behind it (first failure, failures of this cause,
 * Retry-After, the rate let through, drop ages, handshake slowdown…), and
 * the probe's own event-loop delay, which says whether its timings hold.
 */
import { STARVED_LOOP_DELAY_MS } from '../../engine/limiting-factor.js';
import type { DurationSpread, LimitingFactor, RunResult } from '../../engine/types.js';
import { formatSeconds } from '../../engine/units.js';
import { CAUSE_NAMES } from '../../engine/words/cause-headline.js';
import { formatFailureClasses, formatFailureCodes } from '../../engine/words/failure-phrases.js';
import { formatMs } from '../format.js';
import { html, type HtmlValue, type SafeHtml } from '../html-escape.js';
import { factRows } from './markup.js';

/** The evidence of `run`'s limiting factor, or that there is none. */
export function evidenceSection(run: RunResult): SafeHtml {
  const factor = run.limitingFactor;
  const { eventLoopDelayP99Ms, eventLoopDelayMaxMs } = run.probe;
  const delay = `p99 ${formatMs(eventLoopDelayP99Ms)} ms, max ${formatMs(eventLoopDelayMaxMs)} ms`;
  const probeHealth = html`<div><dt>Probe event-loop delay</dt><dd>${delay} (the probe's timings are trusted under
${STARVED_LOOP_DELAY_MS} ms)</dd></div>`;
  if (!factor) {
    return html`<section class="evidence"><h2>Evidence</h2>
<p>No limiting factor: nothing failed beyond tolerance.</p><dl class="facts">${probeHealth}</dl></section>`;
  }
  return html`<section class="evidence">
<h2>Evidence of the ${CAUSE_NAMES[factor.kind]}</h2>
<p>${factor.summary}</p>
<dl class="facts">
${factRows(evidenceFacts(run, factor))}
${probeHealth}
</dl>
</section>`;
}

/** The evidence of a limiting factor as name–value pairs, only those it has. */
function evidenceFacts(run: RunResult, factor: LimitingFactor): Array<[string, HtmlValue]> {
  const { evidence } = factor;
  const facts: Array<[string, HtmlValue]> = [];
  const first = evidence.firstFailure;
  if (first) {
    const atMs = Date.parse(first.at) - Date.parse(run.startedAt);
    const code = [
      first.status !== undefined ? `HTTP ${first.status}` : undefined,
      first.closeCode !== undefined ? `close ${first.closeCode}` : undefined,
      first.errorCode,
    ].filter((part) => part !== undefined);
    facts.push([
      'First failure',
      `${first.failureClass}${code.length ? ` (${code.join(', ')})` : ''} at ${first.openCount} open ` +
        `connections, ${formatSeconds(atMs / 1000)} after the start, in stage ${first.stage + 1}`,
    ]);
  }
  const counted = formatFailureCodes(evidence.failures);
  facts.push([
    'Failures of this cause',
    `${formatFailureClasses(evidence.failures) || 'none'}${counted.length ? ` (${counted.join(', ')})` : ''}`,
  ]);
  if (evidence.retryAfter?.length) facts.push(['Retry-After', evidence.retryAfter.join(', ')]);
  if (evidence.openedAfterFirstRefusal !== undefined)
    facts.push(['Opened after the first refusal', String(evidence.openedAfterFirstRefusal)]);
  if (evidence.sustainableHandshakesPerSecond !== undefined) {
    facts.push([
      'Handshakes per second while refusing',
      `${evidence.sustainableHandshakesPerSecond} (the rate the target let through)`,
    ]);
  }
  if (factor.valueSeconds !== undefined)
    facts.push([factor.kind === 'idle-timeout' ? 'Idle timeout' : 'Lifetime', formatSeconds(factor.valueSeconds)]);
  if (evidence.idleAge) facts.push(['Age since the last frame at the drop', spread(evidence.idleAge)]);
  if (evidence.connectionAge) facts.push(['Age since open at the drop', spread(evidence.connectionAge)]);
  if (evidence.handshakeP95Ms) {
    const { first: firstStage, failing } = evidence.handshakeP95Ms;
    facts.push([
      'Handshake p95',
      `${milliseconds(firstStage)} in the first stage, ${milliseconds(failing)} in the failing stage`,
    ]);
  }
  if (evidence.eventLoopDelayMaxMs !== undefined)
    facts.push(['Worst event-loop delay', `${formatMs(evidence.eventLoopDelayMaxMs)} ms`]);
  if (evidence.message) facts.push(['Note', evidence.message]);
  return facts;
}

/** `median 30.2 s, from 29.8 s to 30.4 s over 12 drops`. */
function spread(value: DurationSpread): string {
  const [median, min, max] = [value.medianSeconds, value.minSeconds, value.maxSeconds].map((s) => formatSeconds(s));
  return `median ${median}, from ${min} to ${max} over ${value.count} drops`;
}

/** `12.5 ms`, or `none completed` when no handshake completed. */
function milliseconds(value: number | null): string {
  return value === null ? 'none completed' : `${formatMs(value)} ms`;
}
