/**
 * A small JSON path, for the value a URL provider's response holds: dotted
 * keys and array indexes, with an optional leading `$`, e.g. `url`,
 * `$.data.websocketUrl`, `sessions[0].url` or `data["ws-url"]`. Parsed once
 * with an error that names the flag; read with {@link readJsonPath}.
 */
import { InvalidInputError } from './errors.js';

/** One step of a path: an object key or an array index. */
export type JsonPathStep = { key: string } | { index: number };

const STEP = /^(?:\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\["([^"\\]*)"\])/;

/** Parses a path; throws InvalidInputError naming `field` and the first character it cannot read. */
export function parseJsonPath(text: string, field: string): JsonPathStep[] {
  let rest = text.trim().replace(/^\$/, '');
  const steps: JsonPathStep[] = [];
  while (rest !== '') {
    const match = STEP.exec(rest);
    if (!match) {
      throw new InvalidInputError(
        field,
        `cannot read "${text}" from "${rest}": use keys and indexes like data.url or sessions[0].url`,
      );
    }
    const [whole, key, index, quoted] = match;
    steps.push(index !== undefined ? { index: Number(index) } : { key: key ?? quoted ?? '' });
    rest = rest.slice(whole.length);
  }
  if (steps.length === 0) throw new InvalidInputError(field, 'must name a value, e.g. url or data.websocketUrl');
  return steps;
}

/** The value at `path` in `value`, or undefined when a step is missing. */
export function readJsonPath(value: unknown, path: readonly JsonPathStep[]): unknown {
  let current = value;
  for (const step of path) {
    if ('index' in step) {
      if (!Array.isArray(current)) return undefined;
      current = current[step.index] as unknown;
    } else {
      if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
      if (!Object.hasOwn(current, step.key)) return undefined;
      current = (current as Record<string, unknown>)[step.key];
    }
  }
  return current;
}

/** The path as written in errors and summaries: `data.url`, `sessions[0].url`. */
export function describeJsonPath(path: readonly JsonPathStep[]): string {
  return path
    .map((step, index) => {
      if ('index' in step) return `[${step.index}]`;
      if (!/^[A-Za-z_$][\w$-]*$/.test(step.key)) return `["${step.key}"]`;
      return index === 0 ? step.key : `.${step.key}`;
    })
    .join('');
}
