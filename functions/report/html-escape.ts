/**
 * HTML escaping for the run report and its SVG chart. Markup is built with the
 * `html` tagged template: every interpolated string or number is escaped,
 * only markup made by `html` itself is inserted as is. So a string taken
 * from a run (a target id, a close reason, a header name) can never become
 * markup, wherever it lands: text, attribute or SVG.
 */

/** Markup that is already safe to insert: made by {@link html}. */
export class SafeHtml {
  /** The markup. */
  readonly markup: string;

  constructor(markup: string) {
    this.markup = markup;
  }
}

/** What may be interpolated into {@link html}: nothing (`null`, `undefined`, `false`) renders as empty. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` with `& < > " '` replaced by entities: safe in element content and in quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ENTITIES[character] ?? character);
}

/**
 * Builds markup from a template: strings and numbers interpolated are
 * escaped, {@link SafeHtml} is inserted as is, arrays are joined, and
 * `null`, `undefined`, `false` and `true` render as nothing (so `cond && html\`…\`` works).
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let markup = strings[0] ?? '';
  values.forEach((value, index) => {
    markup += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(markup);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.markup;
  if (isList(value)) return value.map(render).join('');
  if (value === null || value === undefined || typeof value === 'boolean') return '';
  return escapeHtml(String(value));
}

/** Array.isArray for a readonly list (TypeScript's own does not narrow one). */
function isList(value: HtmlValue): value is readonly HtmlValue[] {
  return Array.isArray(value);
}
