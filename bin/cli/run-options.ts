/**
 * Turns `ws-ceiling run` flags (strings from the command line) into validated
 * ProbeSettings with one zod schema. Every error names the flag and what is
 * allowed; header values and URL credentials are never echoed back.
 */
import net from 'node:net';
import { z } from 'zod';
import { DEFAULT_BASELINE_RUNS, DEFAULT_REGRESSION_TOLERANCE } from '../../functions/engine/baseline.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { HARD_MAX_CONNECTIONS, HARD_MAX_RATE, MAX_BASELINE_RUNS } from '../../functions/engine/limits.js';
import { DEFAULT_SHARD_SIZE, stagesFromRange } from '../../functions/engine/plan.js';
import { PROBE_DEFAULTS } from '../../functions/engine/probe-defaults.js';
import { parseSourceAddresses } from '../../functions/engine/source-addresses.js';
import type { HeartbeatSettings, ProbeSettings, Tolerance } from '../../functions/engine/types.js';
import { decimal, secondsFlag, wholeNumber } from './flag-numbers.js';
import { parseSessionFlags, PROCESS_CONTEXT, type FlagContext, type RawSessionFlags } from './session-options.js';
import { targetIdFromUrl } from './target-id.js';

/** Defaults of the run flags, shown in `--help`. */
export const RUN_DEFAULTS = {
  start: String(PROBE_DEFAULTS.range.start),
  step: String(PROBE_DEFAULTS.range.step),
  max: String(PROBE_DEFAULTS.range.max),
  hold: String(PROBE_DEFAULTS.holdSeconds),
  rate: String(PROBE_DEFAULTS.connectRate),
  maxInFlight: String(PROBE_DEFAULTS.maxInFlight),
  handshakeTimeout: String(PROBE_DEFAULTS.handshakeTimeoutSeconds),
  ping: String(PROBE_DEFAULTS.heartbeatIntervalSeconds),
  pongTimeout: String(PROBE_DEFAULTS.pongTimeoutSeconds),
  tolerance: '0',
  maxConnections: String(PROBE_DEFAULTS.maxConnections),
  shardSize: String(DEFAULT_SHARD_SIZE),
  regressionTolerance: `${DEFAULT_REGRESSION_TOLERANCE * 100}%`,
  baselineRuns: String(DEFAULT_BASELINE_RUNS),
  store: '.ws-ceiling',
} as const;

/** Flags as commander hands them over. */
export interface RawRunFlags extends RawSessionFlags {
  stages?: string;
  /** Range flags have no commander default, so giving them with --stages can be detected. */
  start?: string;
  step?: string;
  max?: string;
  hold: string;
  rate: string;
  maxInFlight: string;
  handshakeTimeout: string;
  ping: string;
  pongTimeout: string;
  heartbeatMessage?: string;
  header: string[];
  subprotocol: string[];
  /** `--source-address A,B,…`. */
  sourceAddress?: string;
  targetId?: string;
  tolerance: string;
  maxConnections: string;
  minCeiling?: string;
  shardSize: string;
  continueAfterFailure?: boolean;
  /** Percent, e.g. `10` or `10%`; RUN_DEFAULTS when not given. */
  regressionTolerance?: string;
  baselineRuns?: string;
  /** The `--simulate` spec when the URL is the bundled simulator's: kept with the run so it can be repeated. */
  simulate?: string;
}

const FLAG_NAMES: Record<string, string> = {
  url: 'url',
  stages: '--stages',
  start: '--start',
  step: '--step',
  max: '--max',
  hold: '--hold',
  rate: '--rate',
  maxInFlight: '--max-in-flight',
  handshakeTimeout: '--handshake-timeout',
  ping: '--ping',
  pongTimeout: '--pong-timeout',
  heartbeatMessage: '--heartbeat-message',
  header: '--header',
  subprotocol: '--subprotocol',
  sourceAddress: '--source-address',
  targetId: '--target-id',
  tolerance: '--tolerance',
  maxConnections: '--max-connections',
  minCeiling: '--min-ceiling',
  shardSize: '--shard-size',
  regressionTolerance: '--regression-tolerance',
  baselineRuns: '--baseline-runs',
};

const stageList = z.string().transform((text, context) => {
  const parts = text.split(',').map((part) => part.trim());
  const values = parts.map(Number);
  const valid = parts.every((part) => /^\d+$/.test(part)) && values.every((value, i) => value > (values[i - 1] ?? 0));
  if (!valid) {
    context.addIssue({
      code: 'custom',
      message: `must be rising whole numbers above 0 separated by commas (e.g. 50,100,150), got "${text}"`,
    });
    return z.NEVER;
  }
  return values;
});

const ping = z.string().transform((text, context) => {
  if (text.trim().toLowerCase() === 'off') return 'off' as const;
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || value < 0.1 || value > 3600) {
    context.addIssue({
      code: 'custom',
      message: `must be "off" or a number of seconds from 0.1 to 3600, got "${text}"`,
    });
    return z.NEVER;
  }
  return value;
});

const tolerance = z.string().transform((text, context): Tolerance => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const value = match ? Number(match[1]) : Number.NaN;
  if (!match || (match[2] === '%' ? value > 100 : !Number.isInteger(value))) {
    context.addIssue({
      code: 'custom',
      message:
        'must be a whole number of failures per stage (e.g. 2) or a percentage of the stage target up to ' +
        `100% (e.g. 0.5%), got "${text}"`,
    });
    return z.NEVER;
  }
  return match[2] === '%' ? { kind: 'percent', value } : { kind: 'count', value };
});

/** A percentage from 0 to 100, `%` optional, as a fraction (`10%` → 0.1). */
const percentFraction = z.string().transform((text, context) => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  const value = match ? Number(match[1]) : Number.NaN;
  if (!match || value > 100) {
    context.addIssue({
      code: 'custom',
      message: `must be a percentage from 0 to 100 (e.g. 10 or 12.5%), got "${text}"`,
    });
    return z.NEVER;
  }
  return value / 100;
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What an HTTP header value may not hold (Node refuses it): control characters but tab, and beyond Latin-1. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Headers the upgrade request may not be given, lower-case, with why: the handshake sets them, or they are wrong. */
const REFUSED_HEADERS: Record<string, string> = {
  connection: 'is set by the WebSocket handshake itself; leave it out',
  upgrade: 'is set by the WebSocket handshake itself; leave it out',
  'sec-websocket-key': 'is set by the WebSocket handshake itself; leave it out',
  'sec-websocket-version': 'is set by the WebSocket handshake itself; leave it out',
  'sec-websocket-accept': 'is set by the WebSocket handshake itself; leave it out',
  'sec-websocket-extensions': 'asks for extensions the probe does not speak; leave it out',
  'sec-websocket-protocol': 'is set from --subprotocol: request subprotocols with --subprotocol NAME (repeatable)',
  'content-length': 'does not belong in an upgrade request, which has no body',
  'transfer-encoding': 'does not belong in an upgrade request, which has no body',
};

/**
 * Why a header cannot go into the upgrade request, or undefined when it can.
 * Names only: never a value, which may be a secret.
 */
function headerProblem(name: string, value: string, seen: ReadonlySet<string>): string | undefined {
  if (!HEADER_NAME.test(name)) return 'must look like "Name: value" with a header name of letters, digits or -';
  const refused = REFUSED_HEADERS[name.toLowerCase()];
  if (refused !== undefined) return `${name} ${refused}`;
  if (seen.has(name.toLowerCase())) return `${name} is given twice (header names ignore case); give it once`;
  if (INVALID_HEADER_VALUE.test(value)) {
    return (
      `the value of ${name} holds a character no header can carry (a line break or another control character, ` +
      'or one beyond Latin-1): give it as one line of printable text'
    );
  }
  return undefined;
}

const headers = z.array(z.string()).transform((entries, context) => {
  const parsed: Record<string, string> = {};
  const seen = new Set<string>();
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon).trim() : '';
    const value = entry.slice(colon + 1).trim();
    // Never echo the entry: it may hold a secret value.
    const problem = headerProblem(name, value, seen);
    if (problem !== undefined) {
      context.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    seen.add(name.toLowerCase());
    parsed[name] = value;
  }
  return parsed;
});

const subprotocols = z.array(z.string()).transform((entries, context) => {
  const invalid = entries.find((entry) => !HEADER_NAME.test(entry));
  if (invalid !== undefined) {
    context.addIssue({ code: 'custom', message: `must be a token of letters, digits or -, got "${invalid}"` });
    return z.NEVER;
  }
  const repeated = entries.find((entry, index) => entries.indexOf(entry) !== index);
  if (repeated !== undefined) {
    context.addIssue({ code: 'custom', message: `"${repeated}" is given twice; give each subprotocol once` });
    return z.NEVER;
  }
  return entries;
});

const targetId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, ".", "_" or "-"');

const rawFlagsSchema = z.object({
  stages: stageList.optional(),
  start: wholeNumber(1, HARD_MAX_CONNECTIONS).default(Number(RUN_DEFAULTS.start)),
  step: wholeNumber(1, HARD_MAX_CONNECTIONS).default(Number(RUN_DEFAULTS.step)),
  max: wholeNumber(1, HARD_MAX_CONNECTIONS).default(Number(RUN_DEFAULTS.max)),
  hold: secondsFlag(0.1, 86_400),
  rate: decimal(0.1, HARD_MAX_RATE, 'new connections per second'),
  maxInFlight: wholeNumber(1, 10_000),
  handshakeTimeout: secondsFlag(0.1, 300),
  ping,
  pongTimeout: secondsFlag(0.1, 600),
  heartbeatMessage: z.string().min(1, 'must not be empty').optional(),
  header: headers,
  subprotocol: subprotocols,
  sourceAddress: z.string().optional(),
  targetId: targetId.optional(),
  tolerance,
  maxConnections: wholeNumber(1, HARD_MAX_CONNECTIONS),
  minCeiling: wholeNumber(1, HARD_MAX_CONNECTIONS).optional(),
  shardSize: wholeNumber(1, 1000),
  continueAfterFailure: z.boolean().optional(),
  regressionTolerance: percentFraction.default(DEFAULT_REGRESSION_TOLERANCE),
  baselineRuns: wholeNumber(1, MAX_BASELINE_RUNS).default(DEFAULT_BASELINE_RUNS),
});

/**
 * Validates the run flags against a target URL and returns the settings, or throws InvalidInputError. `context`
 * gives the environment `{{env:NAME}}` reads and the `@file`s (this process's by default).
 */
export function parseRunFlags(
  url: string,
  raw: RawRunFlags,
  defaultTargetId?: string,
  context: FlagContext = PROCESS_CONTEXT,
): ProbeSettings {
  const flags = parseFlagValues(raw);
  const plain = url.includes('{{') ? undefined : validateUrl(url);
  const connection = parseSessionFlags(url, flags.header, raw, parseHeaderList, context).settings;
  const idUrl = plain ? url : templateIdUrl(url);
  const target = plain ?? (idUrl === undefined ? undefined : validateUrl(idUrl));
  if (raw.stages !== undefined && (raw.start ?? raw.step ?? raw.max) !== undefined) {
    throw new InvalidInputError('--stages', 'give either --stages or --start/--step/--max, not both');
  }
  const stages = flags.stages ?? stagesFromFlags(flags.start, flags.step, flags.max);
  checkPlanBounds(stages[stages.length - 1] ?? 0, flags);
  const sourceAddresses = flags.sourceAddress === undefined ? [] : sourceAddressesFor(flags.sourceAddress, target);
  return {
    url,
    targetId: flags.targetId ?? defaultTargetId ?? targetIdOf(target),
    stages,
    holdSeconds: flags.hold,
    connectRate: flags.rate,
    maxInFlight: flags.maxInFlight,
    handshakeTimeoutSeconds: flags.handshakeTimeout,
    heartbeat: heartbeatFrom(flags.ping, flags.pongTimeout, flags.heartbeatMessage),
    headers: flags.header,
    subprotocols: flags.subprotocol,
    tolerance: flags.tolerance,
    maxConnections: flags.maxConnections,
    shardSize: flags.shardSize,
    stopAtFirstFailingStage: !flags.continueAfterFailure,
    regressionTolerance: flags.regressionTolerance,
    baselineRuns: flags.baselineRuns,
    ...(flags.minCeiling !== undefined ? { minCeiling: flags.minCeiling } : {}),
    ...(raw.simulate !== undefined ? { simulate: raw.simulate.trim() } : {}),
    ...(sourceAddresses.length ? { sourceAddresses } : {}),
    ...connection,
  };
}

/** A `Name: value` list checked as `--header` is, for another flag (`--session-url-header`, `--alternate-header`). */
function parseHeaderList(entries: string[], flag: string): Record<string, string> {
  const parsed = headers.safeParse(entries);
  if (!parsed.success) throw new InvalidInputError(flag, parsed.error.issues[0]?.message ?? 'invalid');
  return parsed.data;
}

/**
 * A URL with templates as a URL its target id and checks can read: each `{{name}}` written `tpl-name`
 * (`wss://chat.example.com/rooms/{{n}}` reads `wss://chat.example.com/rooms/tpl-n`), so the id says it is a
 * template and never holds a value of one.
 */
function templateIdUrl(url: string): string | undefined {
  const named = url.replace(
    /\{\{\s*([^{}]*?)\s*\}\}/g,
    (_, name: string) => `tpl-${name.replace(/[^A-Za-z0-9_]/g, '_')}`,
  );
  try {
    new URL(named);
    return named;
  } catch {
    return undefined;
  }
}

/** The target id from the URL, or an error asking for --target-id when the URL is a template of a whole URL. */
function targetIdOf(target: URL | undefined): string {
  if (target) return targetIdFromUrl(target);
  throw new InvalidInputError(
    '--target-id',
    'give one: the URL is a template that is no URL until its values are filled in, so it cannot name the target',
  );
}

/**
 * The `--source-address` list, checked against the target: addresses of one family, the target's when its host is
 * an IP address (a connection cannot leave from an IPv6 address for an IPv4 one). Whether each is an address of this
 * machine is checked before the run (functions/probe-host/source-address-check.ts).
 */
function sourceAddressesFor(text: string, target: URL | undefined): string[] {
  const addresses = parseSourceAddresses(text, '--source-address');
  const families = new Set(addresses.map((address) => address.family));
  if (families.size > 1) {
    throw new InvalidInputError('--source-address', 'give addresses of one family, IPv4 or IPv6, not both');
  }
  const targetFamily = net.isIP(target?.hostname.replace(/^\[|\]$/g, '') ?? '');
  if (targetFamily !== 0 && !families.has(targetFamily as 4 | 6)) {
    throw new InvalidInputError(
      '--source-address',
      `the target ${target?.hostname} is an IPv${targetFamily} address: give IPv${targetFamily} source addresses`,
    );
  }
  return addresses.map((address) => address.address);
}

/** Each flag's value checked on its own; throws InvalidInputError naming the first flag refused. */
function parseFlagValues(raw: RawRunFlags): z.infer<typeof rawFlagsSchema> {
  const parsed = rawFlagsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? 'flags');
    throw new InvalidInputError(FLAG_NAMES[key] ?? key, issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** The plan's largest stage `max` against the safety cap and the --min-ceiling gate it must be able to prove. */
function checkPlanBounds(max: number, flags: { maxConnections: number; minCeiling?: number | undefined }): void {
  if (max > flags.maxConnections) {
    throw new InvalidInputError(
      '--max-connections',
      `the plan goes up to ${max} connections, above the safety cap of ${flags.maxConnections}; raise ` +
        '--max-connections on purpose or plan fewer',
    );
  }
  if (flags.minCeiling !== undefined && flags.minCeiling > max) {
    throw new InvalidInputError(
      '--min-ceiling',
      `${flags.minCeiling} is above the plan's maximum of ${max}, so no run could prove it; raise --max or --stages`,
    );
  }
}

function validateUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError('url', 'must be a ws:// or wss:// URL, e.g. wss://chat.example.com/socket');
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new InvalidInputError('url', `must use ws:// or wss://, got ${parsed.protocol}//`);
  }
  // What the upgrade request itself would refuse: ws rejects a fragment, and no server listens on port 0.
  if (url.includes('#')) {
    throw new InvalidInputError(
      'url',
      'must not have a #fragment: a WebSocket URL has none (remove # and what follows)',
    );
  }
  if (parsed.port === '0') throw new InvalidInputError('url', 'port 0 is not a port a server listens on');
  return parsed;
}

function stagesFromFlags(start: number, step: number, max: number): number[] {
  if (start > max) throw new InvalidInputError('--start', `${start} is above --max ${max}`);
  return stagesFromRange(start, step, max);
}

function heartbeatFrom(
  ping: number | 'off',
  pongTimeoutSeconds: number,
  message: string | undefined,
): HeartbeatSettings {
  if (message !== undefined) {
    if (ping === 'off')
      throw new InvalidInputError('--heartbeat-message', 'is sent every --ping seconds, so --ping cannot be off');
    return { kind: 'message', intervalSeconds: ping, payload: message };
  }
  return ping === 'off' ? { kind: 'off' } : { kind: 'ping', intervalSeconds: ping, pongTimeoutSeconds };
}
