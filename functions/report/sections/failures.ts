/**
 * The failures section of the HTML report: the run's failures counted by
 * class, HTTP status, close code and connect error, one table each (only
 * those with any), each count with what it means.
 */
import { STATUS_CODES } from 'node:http';
import type { RunResult } from '../../engine/types.js';
import { html, type SafeHtml } from '../html-escape.js';
import { CLASS_MEANINGS, CLOSE_CODE_MEANINGS, closeCodeMeaning, ERROR_CODE_MEANINGS } from '../report-tables.js';

/** The failure tables of `run`, or that no connection failed. */
export function failuresSection(run: RunResult): SafeHtml {
  const { failures } = run;
  if (failures.total === 0)
    return html`<section class="failures"><h2>Failures</h2><p>No connection failed.</p></section>`;
  return html`<section class="failures">
<h2>Failures <span class="count">${failures.total}</span></h2>
<div class="tables">
${countTable('By class', 'class', failures.byClass, CLASS_MEANINGS)}
${countTable('By HTTP status', 'status', failures.byStatus, STATUS_CODES)}
${countTable('By close code', 'close code', failures.byCloseCode, CLOSE_CODE_MEANINGS, closeCodeMeaning)}
${countTable('By connect error', 'error code', failures.byErrorCode, ERROR_CODE_MEANINGS)}
</div>
</section>`;
}

/** One table of counts, largest first, with the meaning of each key; null when nothing was counted. */
function countTable(
  caption: string,
  keyName: string,
  counts: Partial<Record<string, number>>,
  meanings: Partial<Record<string, string>>,
  fallback: (key: string) => string | undefined = () => undefined,
): SafeHtml | null {
  const entries = Object.entries(counts).filter((entry): entry is [string, number] => (entry[1] ?? 0) > 0);
  if (entries.length === 0) return null;
  entries.sort((a, b) => b[1] - a[1]);
  const rows = entries.map(([key, count]) => {
    const meaning = meanings[key] ?? fallback(key) ?? '';
    return html`<tr><td><code>${key}</code></td><td class="num">${count}</td><td>${meaning}</td></tr>`;
  });
  return html`<table class="counts ${keyName.replace(/\s+/g, '-')}">
<caption>${caption}</caption>
<thead><tr><th>${keyName}</th><th class="num">count</th><th>meaning</th></tr></thead>
<tbody>${rows}</tbody>
</table>`;
}
