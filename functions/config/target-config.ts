/**
 * The ws-ceiling config file: one zod schema that validates every target and
 * fills every default, used at synth time (the CDK app), by `ws-ceiling
 * config check` and by the plan step (which re-validates one target). A bad
 * file is refused with an InvalidInputError whose field is the path of the
 * bad field (e.g. `targets[1].plan.holdSeconds`) and whose message says what
 * is allowed. Header values are never echoed back, and neither are URLs.
 * `schedule.expectedEveryHours` is checked against the cron's gaps over the
 * calendar years from the current one (see expected-every-hours.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_BASELINE_RUNS, DEFAULT_REGRESSION_TOLERANCE } from '../engine/baseline.js';
import { InvalidInputError } from '../engine/errors.js';
import { HARD_MAX_CONNECTIONS, HARD_MAX_RATE, MAX_BASELINE_RUNS } from '../engine/limits.js';
import { DEFAULT_SHARD_SIZE, stagesFromRange } from '../engine/plan.js';
import { round } from '../engine/units.js';
import { PROBE_DEFAULTS } from '../engine/probe-defaults.js';
import { DEFAULT_SIGV4_SERVICE } from '../engine/execute-api.js';
import { DEFAULT_READY_TIMEOUT_SECONDS, parseReadyWhen } from '../engine/session-settings.js';
import type {
  HeaderValue,
  OnCallEndpoint,
  PlanConfig,
  SessionConfig,
  TargetConfig,
  WsCeilingConfig,
} from './config-types.js';
import { LAMBDA_MEMORY_MB } from './aws-limits.js';
import { deployedTemplateIssues, sigV4ScopeOf } from './deployed-connection.js';
import { nextFireAfter } from './cron-fire-times.js';
import { parseCron } from './cron-schedule.js';
import {
  MAX_EXPECTED_EVERY_HOURS,
  minimumExpectedEveryHours,
  type ExpectedEveryMinimum,
} from './expected-every-hours.js';
import { MAX_REGION_OFFSET_MINUTES, regionStartProblem } from './region-starts.js';
import { DEPLOYMENT_NAME_PATTERN, resourceNames } from './resource-names.js';
import { planLimitProblem, resourceNameProblem, targetLimitProblem } from './run-limits.js';

/** A target id: used in resource names, metric dimensions and the runs table key. */
export const TARGET_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}$/;

/** An AWS region name such as `eu-west-1` or `us-gov-west-1`. */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** Most connections one worker Lambda opens: a Lambda has 1,024 file descriptors (the plan step's default shard). */
const MAX_DEPLOYED_SHARD_SIZE = DEFAULT_SHARD_SIZE;

const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space, tab and obs-text: what an HTTP header value may hold. */
const HEADER_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const TIME_ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** An error message for a field: what is allowed, with the value given unless `showInput` is false (secrets, URLs). */
function allowed(text: string, showInput = true): { error: (issue: { input?: unknown }) => string } {
  return {
    error: (issue) =>
      issue.input === undefined
        ? `is required: ${text}`
        : `must be ${text}${showInput ? `, got ${shown(issue.input)}` : ''}`,
  };
}

/** A short rendering of a value given in the file. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * A JSON object with exactly these fields: an unknown field is refused with
 * the allowed ones listed. A value that is not an object is not echoed (it
 * could be a URL with credentials put in the wrong place).
 */
function strictObject<const Shape extends z.core.$ZodLooseShape>(shape: Shape, what: string) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `is not a field here; allowed: ${Object.keys(shape).join(', ')}`
        : allowed(what, false).error(issue),
  });
}

const wholeNumber = (min: number, max: number) => {
  const message = allowed(`a whole number from ${min} to ${max}`);
  return z.number(message).int(message).min(min, message).max(max, message);
};

const decimal = (min: number, max: number, unit: string) => {
  const message = allowed(`a number of ${unit} from ${min} to ${max}`);
  return z.number(message).min(min, message).max(max, message);
};

const flag = z.boolean(allowed('true or false'));

/** A text that must match `pattern`; `what` says what is allowed. */
const matching = (pattern: RegExp, what: string, showInput = true) =>
  z.string(allowed(what, showInput)).regex(pattern, allowed(what, showInput));

/** A list without repeats; `what` names one element in the error. */
const uniqueList = <Element extends z.ZodType>(element: Element, what: string) =>
  z.array(element, allowed(`a list of ${what}`, false)).superRefine((list, context) => {
    list.forEach((item, index) => {
      if (list.indexOf(item) !== index)
        context.addIssue({
          code: 'custom',
          path: [index],
          message: `repeats ${shown(item)}; each ${what} may appear once`,
        });
    });
  });

const targetId = matching(
  TARGET_ID_PATTERN,
  '1 to 48 lower-case letters, digits or "-", starting with a letter or digit (e.g. chat-prod)',
);
const region = matching(AWS_REGION_PATTERN, 'an AWS region name such as eu-west-1');
const hostName = matching(HOST_NAME, 'a lower-case host name such as chat.example.com (no scheme, port or path)');

const targetUrl = z
  .string(allowed('a ws:// or wss:// URL such as wss://chat.example.com/socket', false))
  .superRefine((text, context) => {
    const problem = urlProblem(text, ['ws:', 'wss:'], 'ws:// or wss://');
    if (problem)
      context.addIssue({ code: 'custom', message: `${problem}; credentials go in headers, as secret references` });
  });

const httpsUrl = z.string(allowed('an https:// URL', false)).superRefine((text, context) => {
  const problem = urlProblem(text, ['https:'], 'https://');
  if (problem) context.addIssue({ code: 'custom', message: problem });
});

const schedule = strictObject(
  {
    cron: z.string(allowed('an EventBridge Scheduler cron body such as "0 2 * * ? *"')).superRefine((cron, context) => {
      const parsed = parseCron(cron);
      if ('problem' in parsed) context.addIssue({ code: 'custom', message: `"${cron}" ${parsed.problem}` });
    }),
    timeZone: z
      .string(allowed('an IANA time zone such as Europe/Paris or UTC'))
      .refine(isTimeZone, allowed('an IANA time zone such as Europe/Paris or UTC')),
    expectedEveryHours: wholeNumber(1, MAX_EXPECTED_EVERY_HOURS).optional(),
    regionOffsetMinutes: z
      .record(region, wholeNumber(0, MAX_REGION_OFFSET_MINUTES), {
        error: (issue) =>
          issue.code === 'invalid_key'
            ? 'must name AWS regions such as eu-west-1'
            : 'must be an object of region names to minutes after the cron time, e.g. {"eu-west-1": 0, ' +
              '"us-east-1": 30}',
      })
      .optional(),
  },
  '{"cron": "0 2 * * ? *", "timeZone": "UTC"}',
).superRefine((value, context) => {
  const parsed = parseCron(value.cron);
  if ('problem' in parsed || !isTimeZone(value.timeZone)) return;
  if (nextFireAfter(parsed.cron, value.timeZone, Date.now()) !== undefined) return;
  context.addIssue({
    code: 'custom',
    path: ['cron'],
    message:
      `"${value.cron}" never fires again in ${value.timeZone}` +
      (Math.max(...parsed.cron.years) < new Date().getUTCFullYear()
        ? ` (its year field ends in ${Math.max(...parsed.cron.years)})`
        : ' (the days it names do not come again)') +
      ': give a year field of * or one that is still to come',
  });
});

const secretReference = strictObject(
  {
    secretName: matching(
      SECRET_NAME,
      'a Secrets Manager secret name (letters, digits and /_+=.@-, up to 512; not an ARN)',
    ),
    jsonKey: z
      .string(allowed('the key of a JSON secret'))
      .min(1, allowed('a non-empty key of a JSON secret'))
      .optional(),
    prefix: matching(HEADER_TEXT, 'text without control characters such as line breaks', false).optional(),
  },
  'a secret reference {"secretName": "…", "jsonKey"?: "…", "prefix"?: "…"}',
);

const headerValue = z.union(
  [matching(HEADER_TEXT, 'text without control characters such as line breaks', false), secretReference],
  {
    error: () => 'must be a text value, or a secret reference {"secretName": "…", "jsonKey"?: "…", "prefix"?: "…"}',
  },
) satisfies z.ZodType<HeaderValue>;

const headers = z
  .record(z.string().regex(HTTP_TOKEN), headerValue, {
    error: (issue) =>
      issue.code === 'invalid_key'
        ? "is not a valid header name: use letters, digits and !#$%&'*+.^_`|~-"
        : 'must be an object of header names to values or secret references',
  })
  .superRefine((entries, context) => {
    const names = Object.keys(entries);
    names.forEach((name, index) => {
      const twin = names.findIndex((other) => other.toLowerCase() === name.toLowerCase());
      if (twin !== index)
        context.addIssue({
          code: 'custom',
          path: [name],
          message: `repeats header ${names[twin]} (header names ignore case)`,
        });
    });
  });

/** Most init messages of a deployed session, and the longest text of one: the target travels in each run's input. */
const MAX_DEPLOYED_INIT_MESSAGES = 20;
const MAX_DEPLOYED_INIT_MESSAGE_LENGTH = 8192;

const initMessageText = `a message of 1 to ${MAX_DEPLOYED_INIT_MESSAGE_LENGTH} characters`;
const initMessage = z.union(
  [
    z
      .string()
      .min(1, allowed(initMessageText, false))
      .max(MAX_DEPLOYED_INIT_MESSAGE_LENGTH, allowed(initMessageText, false)),
    secretReference,
  ],
  {
    error: () =>
      `must be a message of 1 to ${MAX_DEPLOYED_INIT_MESSAGE_LENGTH} characters, or a secret reference ` +
      '{"secretName": "…", "jsonKey"?: "…", "prefix"?: "…"}',
  },
);

const session = strictObject(
  {
    initMessages: z
      .array(initMessage, allowed('a list of init messages', false))
      .max(MAX_DEPLOYED_INIT_MESSAGES, allowed(`a list of at most ${MAX_DEPLOYED_INIT_MESSAGES} init messages`, false))
      .default([]),
    readyWhen: z
      .string(allowed('text the ready message contains, or /regex/flags'))
      .superRefine((text, context) => {
        try {
          parseReadyWhen(text, 'readyWhen');
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message.replace(/^readyWhen: /, '') });
        }
      })
      .optional(),
    readyTimeoutSeconds: decimal(0.1, 300, 'seconds').optional(),
  },
  '{"initMessages"?: ["…"], "readyWhen"?: "connection_ack", "readyTimeoutSeconds"?: 10}',
).transform((value, context) => {
  const { initMessages, readyWhen, readyTimeoutSeconds } = value;
  if (readyWhen === undefined) {
    if (readyTimeoutSeconds !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['readyTimeoutSeconds'],
        message: 'is how long to wait for readyWhen, which is not given',
      });
    }
    return { initMessages };
  }
  return { initMessages, readyWhen, readyTimeoutSeconds: readyTimeoutSeconds ?? DEFAULT_READY_TIMEOUT_SECONDS };
}) satisfies z.ZodType<SessionConfig>;

const auth = strictObject(
  {
    kind: z.literal('sigv4', allowed('"sigv4"')),
    region: region.optional(),
    service: matching(/^[a-z0-9-]{1,64}$/, 'a service name such as execute-api').default(DEFAULT_SIGV4_SERVICE),
    apiId: matching(/^[a-z0-9]{10}$/, 'an API Gateway API id: 10 lower-case letters and digits').optional(),
  },
  '{"kind": "sigv4", "region"?: "eu-west-1", "service"?: "execute-api", "apiId"?: "a1b2c3d4e5"}',
);

const heartbeatKinds =
  `one of {"kind": "ping", "intervalSeconds"?: ${PROBE_DEFAULTS.heartbeatIntervalSeconds}, ` +
  `"pongTimeoutSeconds"?: ${PROBE_DEFAULTS.pongTimeoutSeconds}}, {"kind": "message", ` +
  `"payload": "…", "intervalSeconds"?: ${PROBE_DEFAULTS.heartbeatIntervalSeconds}} or ` +
  '{"kind": "off"}';
const heartbeat = z.discriminatedUnion(
  'kind',
  [
    strictObject({ kind: z.literal('off') }, heartbeatKinds),
    strictObject(
      {
        kind: z.literal('ping'),
        intervalSeconds: decimal(0.1, 3600, 'seconds').default(PROBE_DEFAULTS.heartbeatIntervalSeconds),
        pongTimeoutSeconds: decimal(0.1, 600, 'seconds').default(PROBE_DEFAULTS.pongTimeoutSeconds),
      },
      heartbeatKinds,
    ),
    strictObject(
      {
        kind: z.literal('message'),
        intervalSeconds: decimal(0.1, 3600, 'seconds').default(PROBE_DEFAULTS.heartbeatIntervalSeconds),
        payload: z
          .string(allowed('the application message to send'))
          .min(1, allowed('a non-empty application message')),
      },
      heartbeatKinds,
    ),
  ],
  allowed(heartbeatKinds, false),
);

const toleranceKinds =
  'a whole number of failures per stage (e.g. 2), a percentage of the stage target from 0% to 100% (e.g. ' +
  '"0.5%"), or {"kind": "count" | "percent", "value": …}';
const tolerance = z.union(
  [
    wholeNumber(0, HARD_MAX_CONNECTIONS).transform((value) => ({ kind: 'count' as const, value })),
    z
      .string()
      .regex(/^\d+(\.\d+)?%$/)
      .transform((text) => Number(text.slice(0, -1)))
      .pipe(decimal(0, 100, 'percent'))
      .transform((value) => ({ kind: 'percent' as const, value })),
    z.discriminatedUnion('kind', [
      strictObject({ kind: z.literal('count'), value: wholeNumber(0, HARD_MAX_CONNECTIONS) }, toleranceKinds),
      strictObject({ kind: z.literal('percent'), value: decimal(0, 100, 'percent') }, toleranceKinds),
    ]),
  ],
  allowed(toleranceKinds),
);

const onCallEndpoint = z.discriminatedUnion(
  'kind',
  [
    strictObject(
      { kind: z.literal('email'), address: matching(EMAIL, 'an e-mail address such as oncall@example.com') },
      'an e-mail endpoint',
    ),
    strictObject({ kind: z.literal('https'), url: httpsUrl }, 'an https endpoint'),
  ],
  allowed('{"kind": "email", "address": "…"} or {"kind": "https", "url": "https://…"}', false),
) satisfies z.ZodType<OnCallEndpoint>;

const stage = wholeNumber(1, HARD_MAX_CONNECTIONS);
const plan = strictObject(
  {
    stages: z
      .array(stage, allowed('a list of rising stage targets such as [50, 100, 150]'))
      .min(1, allowed('a non-empty list of stage targets'))
      .optional(),
    start: stage.optional(),
    step: stage.optional(),
    max: stage.optional(),
    holdSeconds: decimal(0.1, 86_400, 'seconds').default(PROBE_DEFAULTS.holdSeconds),
    connectRate: decimal(0.1, HARD_MAX_RATE, 'new connections per second').default(PROBE_DEFAULTS.connectRate),
    maxInFlight: wholeNumber(1, 10_000).default(PROBE_DEFAULTS.maxInFlight),
    handshakeTimeoutSeconds: decimal(0.1, 300, 'seconds').default(PROBE_DEFAULTS.handshakeTimeoutSeconds),
    shardSize: wholeNumber(1, MAX_DEPLOYED_SHARD_SIZE).default(MAX_DEPLOYED_SHARD_SIZE),
    maxConnections: wholeNumber(1, HARD_MAX_CONNECTIONS).default(PROBE_DEFAULTS.maxConnections),
    stopAtFirstFailingStage: flag.default(true),
  },
  'a plan object',
)
  .transform((raw, context): PlanConfig => {
    const { stages: given, start, step, max, ...rest } = raw;
    if (given !== undefined && (start ?? step ?? max) !== undefined) {
      context.addIssue({ code: 'custom', path: ['stages'], message: 'give either stages or start/step/max, not both' });
      return z.NEVER;
    }
    const range = {
      start: start ?? PROBE_DEFAULTS.range.start,
      step: step ?? PROBE_DEFAULTS.range.step,
      max: max ?? PROBE_DEFAULTS.range.max,
    };
    if (given === undefined && range.start > range.max) {
      context.addIssue({ code: 'custom', path: ['start'], message: `${range.start} is above max ${range.max}` });
      return z.NEVER;
    }
    const normalised = { stages: given ?? stagesFromRange(range.start, range.step, range.max), ...rest };
    const stages = stagesProblem(normalised);
    const problem = stages ? { path: [stages.field], message: stages.message } : planLimitProblem(normalised);
    if (problem) {
      context.addIssue({ code: 'custom', path: problem.path, message: problem.message });
      return z.NEVER;
    }
    return normalised;
  })
  .prefault({});

const targetSchema = strictObject(
  {
    id: targetId,
    url: targetUrl,
    regions: uniqueList(region, 'region').min(1, allowed('a list of at least one AWS region such as ["eu-west-1"]')),
    schedule,
    enabled: flag.default(true),
    headers: headers.default({}),
    subprotocols: uniqueList(
      matching(HTTP_TOKEN, 'a subprotocol token of letters, digits or -'),
      'subprotocol',
    ).default([]),
    heartbeat: heartbeat.prefault({ kind: 'ping' }),
    session: session.optional(),
    auth: auth.optional(),
    plan,
    tolerance: tolerance.default({ kind: 'count', value: 0 }),
    regressionTolerance: decimal(0, 1, 'a fraction (0.1 is 10 %)').default(DEFAULT_REGRESSION_TOLERANCE),
    baselineRuns: wholeNumber(1, MAX_BASELINE_RUNS).default(DEFAULT_BASELINE_RUNS),
    floor: wholeNumber(1, HARD_MAX_CONNECTIONS).optional(),
    workerMemoryMb: wholeNumber(LAMBDA_MEMORY_MB.min, LAMBDA_MEMORY_MB.max).default(512),
    reservedConcurrency: wholeNumber(1, 10_000).optional(),
  },
  'a target object with id, url, regions and schedule',
).transform((target, context) => {
  const templates = deployedTemplateIssues(target);
  for (const issue of templates) context.addIssue({ code: 'custom', ...issue });
  const scope = target.auth && sigV4ScopeOf(target.url, target.auth);
  if (scope && 'problem' in scope)
    context.addIssue({ code: 'custom', path: ['auth', scope.field], message: scope.problem });
  if (templates.length || (scope && 'problem' in scope)) return z.NEVER;
  const max = target.plan.stages[target.plan.stages.length - 1] ?? 0;
  if (target.floor !== undefined && target.floor > max) {
    context.addIssue({
      code: 'custom',
      path: ['floor'],
      message:
        `${target.floor} is above the plan's last stage ${max}, so no run could prove it; raise the plan ` +
        'or lower the floor',
    });
  }
  const minimum = minimumExpectedEveryHours(target.schedule, target.plan, new Date().getUTCFullYear());
  const problem = expectedEveryProblem(target.schedule, minimum);
  if (problem) {
    context.addIssue({ code: 'custom', path: ['schedule', problem.field], message: problem.message });
    return z.NEVER;
  }
  const { auth: given, ...rest } = target;
  const filled: TargetConfig = {
    ...rest,
    ...(given && scope ? { auth: { kind: 'sigv4', service: given.service, ...scope } } : {}),
    schedule: { ...target.schedule, expectedEveryHours: target.schedule.expectedEveryHours ?? minimum.hours },
  };
  const limit = regionStartProblem(filled) ?? targetLimitProblem(filled);
  if (limit) {
    context.addIssue({ code: 'custom', path: limit.path, message: limit.message });
    return z.NEVER;
  }
  return filled;
}) satisfies z.ZodType<TargetConfig>;

const configSchema = strictObject(
  {
    name: matching(
      DEPLOYMENT_NAME_PATTERN,
      '1 to 16 lower-case letters and digits, starting with a letter (e.g. staging); it goes into every ' +
        'resource name',
    ).optional(),
    allowedHosts: uniqueList(hostName, 'host').min(
      1,
      allowed('a list of at least one host name such as ["chat.example.com"]'),
    ),
    onCall: z.array(onCallEndpoint, allowed('a list of on-call endpoints', false)).default([]),
    targets: z
      .array(targetSchema, allowed('a list of targets', false))
      .min(1, allowed('a list of at least one target', false)),
  },
  'a config object with name, allowedHosts, onCall and targets',
).transform((config, context) => {
  const ids = config.targets.map((target) => target.id);
  const names = resourceNames(config.name);
  config.targets.forEach((target, index) => {
    const name = resourceNameProblem(target, names);
    if (name) context.addIssue({ code: 'custom', path: ['targets', index, ...name.path], message: name.message });
    if (ids.indexOf(target.id) !== index) {
      context.addIssue({
        code: 'custom',
        path: ['targets', index, 'id'],
        message: `repeats "${target.id}"; each target id may appear once`,
      });
    }
    const host = new URL(target.url).hostname;
    if (!config.allowedHosts.includes(host)) {
      context.addIssue({
        code: 'custom',
        path: ['targets', index, 'url'],
        message: `host ${host} is not in allowedHosts (${config.allowedHosts.join(', ')}); add it there on purpose`,
      });
    }
  });
  return config;
}) satisfies z.ZodType<WsCeilingConfig>;

/** True when `A` and `B` are assignable both ways: the same type. */
type SameType<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Fails to compile unless `Condition` is `true`. */
type Assert<Condition extends true> = Condition;
/**
 * Compile-time proof that the schemas produce exactly the types of
 * config-types.ts, no field more or less: if they drift apart, an Assert
 * below fails and the build stops. Nothing refers to it, on purpose: it does
 * its work by being compiled. The leading underscore is the lint config's
 * mark for a name left unused deliberately.
 */
type _SchemaOutputsMatchConfigTypes = [
  Assert<SameType<z.output<typeof configSchema>, WsCeilingConfig>>,
  Assert<SameType<z.output<typeof targetSchema>, TargetConfig>>,
];

/**
 * Validates a parsed config file and fills every default. `source` names
 * where it came from (a file path) in the error. Throws InvalidInputError
 * naming the first bad field, e.g. `targets[1].plan.holdSeconds`.
 */
export function parseConfig(value: unknown, source: string): WsCeilingConfig {
  return parseWith(configSchema, value, source, 'config');
}

/**
 * Reads and validates a JSON config file, synchronously (the CDK app calls
 * it while it builds the stacks). An unreadable file or bad JSON throws
 * InvalidInputError naming the file.
 */
export function loadConfigFile(path: string): WsCeilingConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidInputError(
      path,
      `cannot read the config file (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(path, `is not valid JSON: ${jsonErrorAt(text, error)}`);
  }
  return parseConfig(value, path);
}

/**
 * Validates one target, as the plan step does with the target of a run
 * request. It accepts the schema's own output (a normalised target), so a
 * target that passed {@link parseConfig} passes again unchanged. The
 * allowlist is not checked here: the stack does that with its own list.
 */
export function parseTargetConfig(value: unknown, source: string): TargetConfig {
  return parseWith(targetSchema, value, source, 'target');
}

/** The config with only the targets probed from `region` (the stack of that region). */
export function configForRegion(config: WsCeilingConfig, region: string): WsCeilingConfig {
  if (!AWS_REGION_PATTERN.test(region))
    throw new InvalidInputError('region', `must be an AWS region name such as eu-west-1, got ${shown(region)}`);
  return { ...config, targets: config.targets.filter((target) => target.regions.includes(region)) };
}

/** Runs a schema and turns its first issue into an InvalidInputError naming the field path. */
function parseWith<Output>(schema: z.ZodType<Output>, value: unknown, source: string, root: string): Output {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (!issue) throw new InvalidInputError(root, `is not valid (${source})`);
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path;
  throw new InvalidInputError(fieldPath(path) || root, `${issue.message} (in ${source})`);
}

/** `targets[1].plan.holdSeconds` from `['targets', 1, 'plan', 'holdSeconds']`. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      if (!/^[A-Za-z_$][\w$-]*$/.test(name)) return `[${JSON.stringify(name)}]`;
      return index === 0 ? name : `.${name}`;
    })
    .join('');
}

/** The problem with a URL: not a URL, the wrong scheme, or user-info in it. Never quotes the URL. */
function urlProblem(text: string, protocols: readonly string[], schemes: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `must be a ${schemes} URL (this is not a URL)`;
  }
  if (!protocols.includes(url.protocol)) return `must be a ${schemes} URL, got ${url.protocol}//`;
  if (url.username || url.password) return 'must not hold a user name or password';
  return undefined;
}

/** True for a time zone name the runtime knows, e.g. `Europe/Paris`, `UTC`. */
function isTimeZone(name: string): boolean {
  if (!TIME_ZONE_NAME.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * A schedule whose `expectedEveryHours` would page between two good runs
 * (not longer than the cron's longest gap plus a run's reporting time), or
 * whose cron leaves no window CloudWatch can watch.
 */
function expectedEveryProblem(
  schedule: { cron: string; timeZone: string; expectedEveryHours?: number | undefined },
  minimum: ExpectedEveryMinimum,
): { field: 'cron' | 'expectedEveryHours'; message: string } | undefined {
  const gap = Number.isFinite(minimum.gapSeconds)
    ? `goes up to ${round(minimum.gapSeconds / 3600, 1)} h between runs in ${schedule.timeZone} (daylight saving ` +
      'included)'
    : 'never fires';
  const reporting = `a run takes up to ${round(minimum.runSeconds / 60, 1)} min to report`;
  if (minimum.hours > MAX_EXPECTED_EVERY_HOURS) {
    const toldAfter = Number.isFinite(minimum.hours) ? `${minimum.hours} h` : 'forever';
    return {
      field: 'cron',
      message:
        `"${schedule.cron}" ${gap} and ${reporting}, so a missing run could be told only after ${toldAfter}` +
        `; CloudWatch alarms look back at most ${MAX_EXPECTED_EVERY_HOURS} h: schedule it more often ` +
        '(e.g. twice a week)',
    };
  }
  const given = schedule.expectedEveryHours;
  if (given === undefined || given >= minimum.hours) return undefined;
  return {
    field: 'expectedEveryHours',
    message:
      `must be at least ${minimum.hours}, got ${given}: "${schedule.cron}" ${gap} and ${reporting}, so a ` +
      `shorter window would page between two good runs; leave it out to get ${minimum.hours}`,
  };
}

/** A plan whose stages do not rise, or go past `maxConnections`. */
function stagesProblem(plan: PlanConfig): { field: string; message: string } | undefined {
  const falling = plan.stages.findIndex((target, index) => index > 0 && target <= (plan.stages[index - 1] ?? 0));
  if (falling > 0) {
    return {
      field: 'stages',
      message: `must rise: ${plan.stages[falling]} follows ${plan.stages[falling - 1]} in [${plan.stages.join(', ')}]`,
    };
  }
  const max = plan.stages[plan.stages.length - 1] ?? 0;
  if (max > plan.maxConnections) {
    return {
      field: 'stages',
      message:
        `go up to ${max} connections, above maxConnections ${plan.maxConnections}; raise maxConnections ` +
        'on purpose or plan fewer',
    };
  }
  return undefined;
}

/**
 * A JSON.parse error in words: with the line and column when the message
 * gives a position, and without the copy of the file's text some messages carry.
 */
function jsonErrorAt(text: string, error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/, ".*" is not valid JSON$/s, '');
  const position = /^(.*) in JSON at position (\d+)/s.exec(message);
  if (!position) return message;
  const before = text.slice(0, Number(position[2]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${position[1]} at line ${line}, column ${column}`;
}
