/**
 * Small pieces of markup more than one section of the HTML report uses: a
 * verdict's badge, a table's header row and the rows of a list of facts.
 */
import type { Verdict } from '../../engine/types.js';
import { html, type HtmlValue, type SafeHtml } from '../html-escape.js';
import { VERDICT_LABELS } from '../report-tables.js';

/** One column of a table's header: its name, and its class (`num` right-aligns it). */
export type Column = readonly [name: string, className?: string];

/** A verdict as a coloured badge: `OK`, `REGRESSED`… */
export function verdictBadge(verdict: Verdict): SafeHtml {
  return html`<span class="badge badge-${verdict}">${VERDICT_LABELS[verdict]}</span>`;
}

/** A table's `<thead>` with one header cell per column. */
export function headerRow(columns: readonly Column[]): SafeHtml {
  const cells = columns.map(([name, className]) =>
    className === undefined ? html`<th>${name}</th>` : html`<th class="${className}">${name}</th>`,
  );
  return html`<thead><tr>${cells}</tr></thead>`;
}

/** Name–value facts as the rows of a `<dl class="facts">`. */
export function factRows(facts: ReadonlyArray<readonly [string, HtmlValue]>): SafeHtml[] {
  return facts.map(([name, value]) => html`<div><dt>${name}</dt><dd>${value}</dd></div>`);
}
