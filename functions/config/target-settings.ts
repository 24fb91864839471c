/**
 * From a validated target to what the engine runs: the ProbeSettings of a
 * deployed run, and the target's request headers and session init messages
 * with secret references resolved at run time. Pure: the secret reader is
 * passed in (the worker passes the Secrets Manager adapter's `readSecret`).
 */
import { WsCeilingError } from '../engine/errors.js';
import { DEFAULT_READY_TIMEOUT_SECONDS, parseReadyWhen } from '../engine/session-settings.js';
import type { ProbeSettings } from '../engine/types.js';
import type { HeaderValue, PlanConfig, SecretReference, TargetConfig } from './config-types.js';

/** The part of ProbeSettings a target's plan decides. */
export type PlanProbeSettings = Pick<
  ProbeSettings,
  | 'stages'
  | 'holdSeconds'
  | 'connectRate'
  | 'maxInFlight'
  | 'handshakeTimeoutSeconds'
  | 'shardSize'
  | 'maxConnections'
  | 'stopAtFirstFailingStage'
>;

/**
 * Reads one referenced secret and returns the value to use: the secret's
 * string, or with `jsonKey` the string at that key of the JSON object it
 * holds (as `SecretsManagerSecrets.readSecret` does). `prefix` is not applied
 * by the reader.
 */
export type SecretReader = (reference: SecretReference) => Promise<string>;

/** The settings a plan gives a run. */
export function planProbeSettings(plan: PlanConfig): PlanProbeSettings {
  return {
    stages: [...plan.stages],
    holdSeconds: plan.holdSeconds,
    connectRate: plan.connectRate,
    maxInFlight: plan.maxInFlight,
    handshakeTimeoutSeconds: plan.handshakeTimeoutSeconds,
    shardSize: plan.shardSize,
    maxConnections: plan.maxConnections,
    stopAtFirstFailingStage: plan.stopAtFirstFailingStage,
  };
}

/**
 * The ProbeSettings of one run of `target` with its resolved `headers`
 * (see {@link resolveTargetHeaders}) and init messages (see
 * {@link resolveInitMessages}; one empty message for each by default); the
 * target's `floor` is the run's `minCeiling`.
 */
export function targetProbeSettings(
  target: TargetConfig,
  headers: Record<string, string>,
  initMessages: string[] = target.session?.initMessages.map(() => '') ?? [],
): ProbeSettings {
  const { session, auth } = target;
  return {
    url: target.url,
    targetId: target.id,
    ...planProbeSettings(target.plan),
    heartbeat: target.heartbeat,
    headers,
    subprotocols: [...target.subprotocols],
    tolerance: target.tolerance,
    regressionTolerance: target.regressionTolerance,
    baselineRuns: target.baselineRuns,
    ...(target.floor !== undefined ? { minCeiling: target.floor } : {}),
    ...(session
      ? {
          session: {
            initMessages,
            ...(session.readyWhen !== undefined
              ? { readyWhen: parseReadyWhen(session.readyWhen, 'session.readyWhen') }
              : {}),
            readyTimeoutSeconds: session.readyTimeoutSeconds ?? DEFAULT_READY_TIMEOUT_SECONDS,
          },
        }
      : {}),
    ...(auth ? { sigv4: { region: auth.region, service: auth.service } } : {}),
  };
}

/**
 * The ProbeSettings of `target` with its header names but no header values
 * (every value empty): all the plan and record steps need, since only the
 * workers send headers.
 */
export function settingsWithoutSecrets(target: TargetConfig): ProbeSettings {
  return targetProbeSettings(target, Object.fromEntries(Object.keys(target.headers).map((name) => [name, ''])));
}

/** The target's session init messages with every secret reference read (and prefixed) as headers are. */
export async function resolveInitMessages(target: TargetConfig, readSecret: SecretReader): Promise<string[]> {
  const messages = target.session?.initMessages ?? [];
  return Promise.all(
    messages.map((value, index) => resolveValue(`session init message ${index + 1}`, value, readSecret)),
  );
}

/**
 * The target's headers with every secret reference read through
 * `readSecret` and its `prefix` put in front. A failed read throws a
 * WsCeilingError naming the header and the secret (never a value), keeping
 * the reader's exit code when it has one (3 otherwise).
 */
export async function resolveTargetHeaders(
  target: TargetConfig,
  readSecret: SecretReader,
): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(target.headers).map(async ([name, value]): Promise<[string, string]> => [
      name,
      await resolveValue(`header ${name}`, value, readSecret),
    ]),
  );
  return Object.fromEntries(entries);
}

/** A text value as it is, or a secret reference read and prefixed, naming `what` and the secret when it fails. */
async function resolveValue(what: string, value: HeaderValue, readSecret: SecretReader): Promise<string> {
  if (typeof value === 'string') return value;
  return (value.prefix ?? '') + (await readValueSecret(what, value, readSecret));
}

/** Reads the secret of `what` (a header or an init message), naming it and the secret when it fails. */
async function readValueSecret(what: string, reference: SecretReference, readSecret: SecretReader): Promise<string> {
  try {
    return await readSecret(reference);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const withSecret = reason.includes(reference.secretName) ? reason : `secret ${reference.secretName}: ${reason}`;
    const exitCode = error instanceof WsCeilingError ? error.exitCode : 3;
    throw new WsCeilingError(`${what}: ${withSecret}`, exitCode, { cause: error });
  }
}
