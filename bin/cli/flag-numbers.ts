/**
 * Number flags of the CLI as zod string parsers, so every command says what
 * it allows in the same form: `must be a whole number from 1 to 10000, got
 * "0"`, `must be a number of seconds from 1 to 86400, got "long"`.
 */
import { z } from 'zod';
import { InvalidInputError } from '../../functions/engine/errors.js';

/** A whole number within bounds; `unit`, when given, names what it counts in the error. */
export const wholeNumber = (min: number, max: number, unit?: string) =>
  z.string().transform((text, context) => {
    const value = Number(text.trim());
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
      context.addIssue({
        code: 'custom',
        message: `must be a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}, got "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  });

/** A decimal number within bounds; `unit` names what it counts in the error. */
export const decimal = (min: number, max: number, unit: string) =>
  z.string().transform((text, context) => {
    const value = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
      context.addIssue({ code: 'custom', message: `must be a number of ${unit} from ${min} to ${max}, got "${text}"` });
      return z.NEVER;
    }
    return value;
  });

/** A flag giving a number of seconds within bounds (decimals allowed), parsed to that number of seconds. */
export const secondsFlag = (min: number, max: number) => decimal(min, max, 'seconds');

/** `text` parsed by `parser`; a refusal throws an InvalidInputError naming `flag`. */
export function parseFlag<T>(parser: z.ZodType<T, string>, flag: string, text: string): T {
  const parsed = parser.safeParse(text);
  if (!parsed.success) throw new InvalidInputError(flag, parsed.error.issues[0]?.message ?? 'invalid');
  return parsed.data;
}
