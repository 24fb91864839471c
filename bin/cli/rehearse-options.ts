/**
 * The flags of `ws-ceiling rehearse`, checked before anything starts: the
 * config file (its own errors name the field), the target and the region it
 * is probed from, a staging `--url` whose host the config must still allow
 * (the plan step would refuse it), the secrets the target's headers name
 * (from a file or WS_CEILING_SECRETS, never stored), the start delay, and the
 * faults to play. Bad input throws an InvalidInputError naming the flag (exit 2).
 */
import { readFileSync } from 'node:fs';
import type { TargetConfig, WsCeilingConfig } from '../../functions/config/config-types.js';
import { loadConfigFile } from '../../functions/config/target-config.js';
import { shardCount, WORKER_START_DELAY_SECONDS } from '../../functions/config/worker-budget.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import type { ChildFault } from '../../functions/lambda-sandbox/sandbox-protocol.js';
import { assertAllowedHost } from '../../functions/steps/allowed-hosts.js';

/** Environment variable that may hold the rehearsal's secrets as a JSON object of name to value. */
export const SECRETS_VARIABLE = 'WS_CEILING_SECRETS';

/** The flags as commander hands them over. */
export interface RehearseFlags {
  config: string;
  targetId: string;
  region?: string;
  url?: string;
  store: string;
  json?: boolean;
  secrets?: string;
  startDelay?: string;
  fault?: string[];
}

/**
 * A fault played on the calls of one map item (a worker, by its shard
 * number) or of one Task state outside the map (by its name, e.g. `Plan`:
 * every call of that state, retries included).
 */
export interface PlannedFault {
  on: number | string;
  /** Played in the child, or a delay before the call starts (a slow cold start). */
  fault: ChildFault | { kind: 'late'; delayMs: number };
  /** As given, for the output. */
  spec: string;
}

/** What a rehearsal runs, checked. */
export interface RehearseOptions {
  configPath: string;
  config: WsCeilingConfig;
  target: TargetConfig;
  region: string;
  /** The staging URL that replaces the target's, when given. */
  url?: string;
  store: string;
  json: boolean;
  /** Secret values by name: only for the children's Secrets Manager, never written. */
  secrets: Map<string, string>;
  /** Seconds from planning to the first stage: the deployed delay unless shortened. */
  startDelaySeconds: number;
  faults: PlannedFault[];
}

/** Reads and checks the flags; `environment` is where WS_CEILING_SECRETS is read. */
export function rehearseOptions(flags: RehearseFlags, environment: NodeJS.ProcessEnv): RehearseOptions {
  const config = loadConfigFile(flags.config);
  const target = config.targets.find((candidate) => candidate.id === flags.targetId);
  if (!target) {
    throw new InvalidInputError(
      '--target-id',
      `no target "${flags.targetId}" in ${flags.config} (its targets: ${config.targets.map((t) => t.id).join(', ')})`,
    );
  }
  const region = flags.region ?? target.regions[0] ?? '';
  if (!target.regions.includes(region)) {
    throw new InvalidInputError(
      '--region',
      `target ${target.id} is probed from ${target.regions.join(', ')}, not from ${region}`,
    );
  }
  if (flags.url !== undefined) {
    if (!/^wss?:\/\//i.test(flags.url))
      throw new InvalidInputError('--url', `must be a ws:// or wss:// URL, got "${flags.url}"`);
    assertAllowedHost(flags.url, config.allowedHosts, '--url');
  }
  return {
    configPath: flags.config,
    config,
    target,
    region,
    ...(flags.url !== undefined ? { url: flags.url } : {}),
    store: flags.store,
    json: flags.json ?? false,
    secrets: secretsFor(target, flags.secrets, environment),
    startDelaySeconds: startDelayOf(flags.startDelay),
    faults: faultsFor(target, flags.fault ?? []),
  };
}

/** The faults, each on a shard the target's plan has. */
function faultsFor(target: TargetConfig, specs: readonly string[]): PlannedFault[] {
  const shards = shardCount(target.plan);
  return specs.map((spec) => {
    const fault = parseFault(spec);
    if (typeof fault.on === 'number' && fault.on >= shards) {
      throw new InvalidInputError(
        '--fault',
        `"${spec}" names shard ${fault.on}, but the plan has shards 0 to ${shards - 1}`,
      );
    }
    return fault;
  });
}

/** The secret values the target's headers name, from `--secrets FILE` or WS_CEILING_SECRETS; each must be given. */
function secretsFor(
  target: TargetConfig,
  file: string | undefined,
  environment: NodeJS.ProcessEnv,
): Map<string, string> {
  const names = [
    ...new Set(Object.values(target.headers).flatMap((value) => (typeof value === 'string' ? [] : [value.secretName]))),
  ];
  const flag = file === undefined ? SECRETS_VARIABLE : '--secrets';
  let text = environment[SECRETS_VARIABLE];
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new InvalidInputError(
        '--secrets',
        `cannot read ${file} (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }
  const given = new Map<string, string>();
  if (text !== undefined && text.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidInputError(flag, 'must hold a JSON object of secret name to secret value');
    }
    for (const [name, value] of Object.entries(parsed))
      given.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  const missing = names.filter((name) => !given.has(name));
  if (missing.length > 0) {
    throw new InvalidInputError(
      '--secrets',
      `target ${target.id}'s headers name the secret${missing.length === 1 ? '' : 's'} ${missing.join(', ')}: give ` +
        `${missing.length === 1 ? 'its value' : 'their values'} as a JSON object of name to value in a file ` +
        `(--secrets FILE) or in ${SECRETS_VARIABLE}; values are never printed or stored`,
    );
  }
  return given;
}

function startDelayOf(text: string | undefined): number {
  if (text === undefined) return WORKER_START_DELAY_SECONDS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.5 || seconds > WORKER_START_DELAY_SECONDS) {
    throw new InvalidInputError(
      '--start-delay',
      `must be a number of seconds from 0.5 to ${WORKER_START_DELAY_SECONDS} (the deployed delay), got "${text}"`,
    );
  }
  return seconds;
}

/**
 * `crash:1`, `crash:1@2.5` (seconds into the call), `oom:0`, `late:2@4` (the
 * call starts 4 s late); a Task state's name instead of the shard, e.g. `crash:Plan`.
 */
function parseFault(spec: string): PlannedFault {
  const match = /^(crash|oom|late):(\d+|[A-Za-z][\w-]*)(?:@(\d+(?:\.\d+)?))?$/.exec(spec);
  const seconds = match?.[3] === undefined ? undefined : Number(match[3]);
  if (!match || (match[1] === 'late' && seconds === undefined) || (match[1] === 'oom' && seconds !== undefined)) {
    throw new InvalidInputError(
      '--fault',
      'must be crash:SHARD[@SECONDS], oom:SHARD or late:SHARD@SECONDS, with a shard number or the name of a Task ' +
        `state outside the map (e.g. crash:1@2, crash:Plan), got "${spec}"`,
    );
  }
  const on = /^\d+$/.test(match[2] ?? '') ? Number(match[2]) : (match[2] ?? '');
  const fault =
    match[1] === 'crash'
      ? { kind: 'crash' as const, afterMs: (seconds ?? 0) * 1000 }
      : match[1] === 'oom'
        ? { kind: 'exhaust-memory' as const }
        : { kind: 'late' as const, delayMs: (seconds ?? 0) * 1000 };
  return { on, fault, spec };
}
