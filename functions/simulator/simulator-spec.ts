/**
 * The compact simulator spec of `ws-ceiling run --simulate <spec>` and
 * `ws-ceiling target`: comma-separated `key=value` pairs (e.g.
 * `cap=150,idle-timeout=4`) or the word `accept`, parsed into
 * SimulatorOptions; and the one-line plain description of a simulator.
 */
import { z } from 'zod';
import { InvalidInputError } from '../engine/errors.js';
import { UPGRADE_ANSWERS } from './hostile-answers.js';
import { isSendableCloseCode, type CapResponse, type SimulatorOptions } from './target-simulator.js';
import type { WindowLimit } from './upgrade-window.js';

const DEFAULT_CAP_STATUS = 503;
const DEFAULT_RATE_RETRY_AFTER_SECONDS = 1;
const DEFAULT_CLOSE_CODE = 1001;
/** Close code of a session refused over the cap (graphql-ws's 4429, Too many requests). */
const DEFAULT_SESSION_CLOSE_CODE = 4429;
const DEFAULT_DEGRADE_DELAY_MS = 20;
const MAX_DELAY_MS = 10_000;
const MAX_COUNT = 100_000;
const MAX_SECONDS = 86_400;

const whole = (min: number, max: number) =>
  z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
const positiveNumber = (max: number) =>
  z
    .string()
    .regex(/^(\d+\.?\d*|\.\d+)$/)
    .transform(Number)
    .pipe(z.number().positive().max(max));
const httpErrorStatus = whole(400, 599);
/** "N/W": N upgrades per W seconds. */
const perWindow = z
  .string()
  .regex(/^\d+\/(\d+\.?\d*|\.\d+)$/)
  .transform((value) => value.split('/').map(Number) as [number, number])
  .refine(([count, seconds]) => count >= 1 && count <= MAX_COUNT && seconds > 0 && seconds <= MAX_SECONDS);

const specSchema = z.strictObject({
  cap: whole(1, MAX_COUNT).optional(),
  'cap-response': z.union([z.enum(['reset', 'queue']), httpErrorStatus]).optional(),
  'retry-after': whole(0, MAX_SECONDS).optional(),
  rate: positiveNumber(MAX_COUNT).optional(),
  burst: whole(1, MAX_COUNT).optional(),
  'idle-timeout': positiveNumber(MAX_SECONDS).optional(),
  'close-after': positiveNumber(MAX_SECONDS).optional(),
  'close-code': whole(1000, 4999).refine(isSendableCloseCode).optional(),
  reject: httpErrorStatus.optional(),
  'degrade-after': whole(1, MAX_COUNT).optional(),
  'degrade-delay': whole(0, MAX_DELAY_MS).optional(),
  'close-tcp': z.literal('keep').optional(),
  'bad-frame-after': positiveNumber(MAX_SECONDS).optional(),
  answer: z.enum(UPGRADE_ANSWERS).optional(),
  per: z.union([z.literal('source-address'), z.string().regex(/^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)]).optional(),
  'session-cap': whole(1, MAX_COUNT).optional(),
  'session-close-code': whole(1000, 4999).refine(isSendableCloseCode).optional(),
  port: whole(0, 65_535).optional(),
  'fixed-window': perWindow.optional(),
  'sliding-window': perWindow.optional(),
  'queue-wait': positiveNumber(MAX_SECONDS).optional(),
  'url-provider': z.enum(['url', 'token']).optional(),
  'url-provider-port': whole(0, 65_535).optional(),
  'url-provider-rate': positiveNumber(MAX_COUNT).optional(),
  'url-provider-cap': whole(1, MAX_COUNT).optional(),
});

type SpecKey = keyof typeof specSchema.shape;
type SpecValues = z.output<typeof specSchema>;

/** What each key allows, in the words of the error messages. */
const ALLOWED: Record<SpecKey, string> = {
  cap: `a whole number from 1 to ${MAX_COUNT}`,
  'cap-response': 'an HTTP status from 400 to 599, reset or queue',
  'retry-after': `a whole number of seconds from 0 to ${MAX_SECONDS}`,
  rate: `a number of handshakes per second above 0, at most ${MAX_COUNT}`,
  burst: `a whole number from 1 to ${MAX_COUNT}`,
  'idle-timeout': `a number of seconds above 0, at most ${MAX_SECONDS}`,
  'close-after': `a number of seconds above 0, at most ${MAX_SECONDS}`,
  'close-code': 'a close code that may be sent: 1000-1003, 1007-1014 or 3000-4999',
  reject: 'an HTTP status from 400 to 599',
  'degrade-after': `a whole number of open connections from 1 to ${MAX_COUNT}`,
  'degrade-delay': `a whole number of milliseconds from 0 to ${MAX_DELAY_MS}`,
  'close-tcp': 'keep (send the close frame and keep TCP open)',
  'bad-frame-after': `a number of seconds above 0, at most ${MAX_SECONDS}`,
  answer: `${UPGRADE_ANSWERS.join(' or ')}`,
  per: 'source-address or header:NAME (keep cap and rate per client address or per value of that header)',
  'session-cap': `a whole number of sessions from 1 to ${MAX_COUNT}`,
  'session-close-code': 'a close code that may be sent: 1000-1003, 1007-1014 or 3000-4999',
  port: 'a whole number from 0 to 65535',
  'fixed-window': `N/W: from 1 to ${MAX_COUNT} upgrades per a number of seconds above 0, at most ${MAX_SECONDS}`,
  'sliding-window': `N/W: from 1 to ${MAX_COUNT} upgrades per a number of seconds above 0, at most ${MAX_SECONDS}`,
  'queue-wait': `a number of seconds above 0, at most ${MAX_SECONDS}`,
  'url-provider': 'url or token (the answer: {"data":{"url":…}} or {"token":…})',
  'url-provider-port': 'a whole number from 0 to 65535',
  'url-provider-rate': `a number of provider calls per second above 0, at most ${MAX_COUNT}`,
  'url-provider-cap': `a whole number of sessions from 1 to ${MAX_COUNT}`,
};

/** Keys that only mean something together with another key. */
const NEEDS: ReadonlyArray<{ key: SpecKey; needs: SpecKey[] }> = [
  { key: 'cap-response', needs: ['cap'] },
  { key: 'burst', needs: ['rate'] },
  { key: 'close-code', needs: ['close-after'] },
  { key: 'retry-after', needs: ['cap', 'rate', 'fixed-window', 'sliding-window'] },
  { key: 'degrade-delay', needs: ['degrade-after'] },
  { key: 'queue-wait', needs: ['cap'] },
  { key: 'close-tcp', needs: ['close-after'] },
  { key: 'per', needs: ['cap', 'rate'] },
  { key: 'session-close-code', needs: ['session-cap'] },
  { key: 'url-provider-port', needs: ['url-provider'] },
  { key: 'url-provider-rate', needs: ['url-provider'] },
  { key: 'url-provider-cap', needs: ['url-provider'] },
];

/** A problem with a spec, named by {@link parseSimulatorSpec} after the flag or argument it came from. */
class SpecProblem extends Error {}

/**
 * Parses a simulator spec: `accept` (accept everything) or comma-separated
 * `key=value` pairs with keys cap, cap-response, retry-after, rate, burst,
 * idle-timeout, close-after, close-code, reject, degrade-after,
 * degrade-delay, close-tcp, bad-frame-after, answer, per, session-cap,
 * session-close-code, port, fixed-window, sliding-window, queue-wait, url-provider, url-provider-port,
 * url-provider-rate, url-provider-cap.
 * @param field the flag or argument the spec came from, named in errors
 * @throws InvalidInputError naming `field`, the bad key or value and what is allowed.
 */
export function parseSimulatorSpec(spec: string, field = '--simulate'): SimulatorOptions {
  try {
    return parseSpec(spec);
  } catch (error) {
    if (error instanceof SpecProblem) throw new InvalidInputError(field, error.message);
    throw error;
  }
}

function parseSpec(spec: string): SimulatorOptions {
  const trimmed = spec.trim();
  if (trimmed === 'accept') return {};
  if (trimmed === '') {
    throw new SpecProblem('empty spec (use "accept" or key=value pairs, e.g. cap=150,idle-timeout=4)');
  }
  const raw = splitPairs(trimmed);
  const parsed = specSchema.safeParse(raw);
  if (!parsed.success) throw describeIssue(parsed.error.issues[0], raw);
  checkDependencies(parsed.data);
  checkWindowAndQueue(parsed.data);
  checkPer(parsed.data);
  return toOptions(parsed.data);
}

function splitPairs(spec: string): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const pair of spec.split(',').map((part) => part.trim())) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new SpecProblem(`expected key=value, got "${pair}"`);
    const key = pair.slice(0, equals).trim();
    if (Object.hasOwn(raw, key)) throw new SpecProblem(`key "${key}" is given more than once`);
    raw[key] = pair.slice(equals + 1).trim();
  }
  return raw;
}

function describeIssue(issue: z.core.$ZodIssue | undefined, raw: Record<string, string>): SpecProblem {
  if (issue?.code === 'unrecognized_keys') {
    return new SpecProblem(`unknown key "${issue.keys[0]}" (allowed: ${Object.keys(ALLOWED).join(', ')})`);
  }
  const key = String(issue?.path[0]) as SpecKey;
  return new SpecProblem(`${key} must be ${ALLOWED[key]}, got "${raw[key]}"`);
}

/** `per` keeps a cap answered with a status and a token-bucket rate per scope: nothing else. */
function checkPer(values: SpecValues): void {
  if (values.per === undefined) return;
  const cap = values['cap-response'];
  if (cap === 'reset' || cap === 'queue') {
    throw new SpecProblem(`per needs a cap answered with an HTTP status, not cap-response=${cap}`);
  }
  const other = (['fixed-window', 'sliding-window', 'queue-wait'] as const).find((key) => values[key] !== undefined);
  if (other) throw new SpecProblem(`per keeps cap and rate per scope, not ${other}`);
}

function checkDependencies(values: SpecValues): void {
  for (const { key, needs } of NEEDS) {
    if (values[key] !== undefined && needs.every((other) => values[other] === undefined)) {
      throw new SpecProblem(`${key} needs ${needs.join(' or ')}`);
    }
  }
}

/** One window kind at a time, and a queue that ends in a status. */
function checkWindowAndQueue(values: SpecValues): void {
  if (values['fixed-window'] && values['sliding-window']) {
    throw new SpecProblem('fixed-window and sliding-window cannot be given together');
  }
  const response = values['cap-response'];
  if (values['queue-wait'] !== undefined && (response === 'reset' || response === 'queue')) {
    throw new SpecProblem(`queue-wait needs cap-response to be an HTTP status, got "${response}"`);
  }
}

/** The window limit of a spec, if it has one. */
function windowOf(values: SpecValues): WindowLimit | undefined {
  const fixed = values['fixed-window'];
  const [kind, perWindow] = fixed ? (['fixed', fixed] as const) : (['sliding', values['sliding-window']] as const);
  if (!perWindow) return undefined;
  const [count, seconds] = perWindow;
  const retryAfter = values['retry-after'];
  return { kind, count, seconds, ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}) };
}

function toOptions(values: SpecValues): SimulatorOptions {
  const options: SimulatorOptions = {};
  if (values.port !== undefined) options.port = values.port;
  if (values.reject !== undefined) options.rejectAll = values.reject;
  if (values.rate !== undefined) {
    options.rateLimit = {
      perSecond: values.rate,
      burst: values.burst ?? Math.max(1, values.rate),
      retryAfterSeconds: values['retry-after'] ?? DEFAULT_RATE_RETRY_AFTER_SECONDS,
    };
  }
  const window = windowOf(values);
  if (window) options.window = window;
  if (values.cap !== undefined) {
    const response = capResponse(values['cap-response'], values['retry-after']);
    if (response.kind === 'status' && values['queue-wait'] !== undefined) response.queueSeconds = values['queue-wait'];
    options.cap = { limit: values.cap, response };
  }
  if (values['idle-timeout'] !== undefined) options.idleTimeoutSeconds = values['idle-timeout'];
  if (values['close-after'] !== undefined) {
    options.closeAfter = { seconds: values['close-after'], code: values['close-code'] ?? DEFAULT_CLOSE_CODE };
    if (values['close-tcp'] === 'keep') options.closeAfter.keepTcpOpen = true;
  }
  if (values['bad-frame-after'] !== undefined) options.badFrameAfterSeconds = values['bad-frame-after'];
  if (values.answer !== undefined) options.answer = values.answer;
  if (values.per !== undefined) {
    options.per =
      values.per === 'source-address'
        ? { kind: 'source-address' }
        : { kind: 'header', name: values.per.slice('header:'.length) };
  }
  if (values['session-cap'] !== undefined) {
    options.session = {
      cap: values['session-cap'],
      refusal: 'error-message',
      closeCode: values['session-close-code'] ?? DEFAULT_SESSION_CLOSE_CODE,
    };
  }
  const provider = values['url-provider'];
  if (provider !== undefined) {
    const rate = values['url-provider-rate'];
    options.urlProvider = {
      answer: provider,
      ...(values['url-provider-port'] !== undefined ? { port: values['url-provider-port'] } : {}),
      ...(rate !== undefined
        ? {
            rateLimit: {
              perSecond: rate,
              burst: Math.max(1, rate),
              retryAfterSeconds: DEFAULT_RATE_RETRY_AFTER_SECONDS,
            },
          }
        : {}),
      ...(values['url-provider-cap'] !== undefined ? { cap: values['url-provider-cap'] } : {}),
    };
  }
  if (values['degrade-after'] !== undefined) {
    options.degradeAfter = {
      open: values['degrade-after'],
      handshakeDelayMs: values['degrade-delay'] ?? DEFAULT_DEGRADE_DELAY_MS,
    };
  }
  return options;
}

function capResponse(value: SpecValues['cap-response'], retryAfterSeconds: number | undefined): CapResponse {
  if (value === 'reset' || value === 'queue') return { kind: value };
  const response: CapResponse = { kind: 'status', status: value ?? DEFAULT_CAP_STATUS };
  if (retryAfterSeconds !== undefined) response.retryAfterSeconds = retryAfterSeconds;
  return response;
}

/**
 * One plain line saying what a simulator does, e.g.
 * `cap 150 (503), idle timeout 4 s` or `accepts everything`.
 */
export function describeSimulator(options: SimulatorOptions): string {
  const parts: string[] = [];
  if (options.answer === 'web-page') parts.push('answers every upgrade with a web page (200)');
  if (options.answer === 'not-http') parts.push('answers every upgrade with bytes that are not HTTP');
  if (options.rejectAll !== undefined) parts.push(`rejects every upgrade with ${options.rejectAll}`);
  if (options.rateLimit) {
    const { perSecond, burst, retryAfterSeconds } = options.rateLimit;
    parts.push(`rate limit ${perSecond}/s, burst ${burst} (429, retry after ${retryAfterSeconds} s)`);
  }
  if (options.window) {
    const { kind, count, seconds, retryAfterSeconds } = options.window;
    const retry = retryAfterSeconds === undefined ? 'the seconds until it frees' : `${retryAfterSeconds} s`;
    parts.push(`${kind} window of ${count} upgrades per ${seconds} s (429, retry after ${retry})`);
  }
  if (options.cap) parts.push(`cap ${options.cap.limit} (${describeCapResponse(options.cap.response)})`);
  if (options.per) {
    parts.push(options.per.kind === 'source-address' ? 'per client address' : `per ${options.per.name} header value`);
  }
  if (options.session) {
    const { cap, closeCode } = options.session;
    parts.push(`sessions on connection_init, acked up to ${cap} (then connection_error and close ${closeCode})`);
  }
  if (options.urlProvider) parts.push(describeUrlProvider(options.urlProvider));
  if (options.idleTimeoutSeconds !== undefined) parts.push(`idle timeout ${options.idleTimeoutSeconds} s`);
  if (options.closeAfter) {
    const { seconds, code, keepTcpOpen } = options.closeAfter;
    parts.push(`closes after ${seconds} s with ${code}${keepTcpOpen ? ', keeping TCP open' : ''}`);
  }
  if (options.badFrameAfterSeconds !== undefined) {
    parts.push(`sends an invalid frame (close code 1004) after ${options.badFrameAfterSeconds} s`);
  }
  if (options.degradeAfter) {
    const { open, handshakeDelayMs } = options.degradeAfter;
    parts.push(
      `degrades beyond ${open} open (no pongs, handshakes ${handshakeDelayMs} ms later per connection beyond)`,
    );
  }
  return parts.length === 0 ? 'accepts everything' : parts.join(', ');
}

function describeUrlProvider(provider: NonNullable<SimulatorOptions['urlProvider']>): string {
  const { answer, rateLimit, cap } = provider;
  const rate = rateLimit ? `, ${rateLimit.perSecond} calls/s (429, retry after ${rateLimit.retryAfterSeconds} s)` : '';
  const sessions = cap !== undefined ? `, ${cap} sessions in all (then 503)` : '';
  return (
    `a URL provider handing out a ${answer === 'url' ? 'session URL' : 'token'} per call${rate}${sessions}; ` +
    'upgrades without one of its tokens refused with 401'
  );
}

function describeCapResponse(response: CapResponse): string {
  if (response.kind !== 'status') return response.kind;
  const retry = response.retryAfterSeconds === undefined ? '' : `, retry after ${response.retryAfterSeconds} s`;
  const held = response.queueSeconds === undefined ? '' : ` after holding the upgrade ${response.queueSeconds} s`;
  return `${response.status}${held}${retry}`;
}
