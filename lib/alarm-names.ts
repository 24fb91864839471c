/**
 * Names of the per-target alarms. Every name starts with one prefix, which
 * the alarm topic and its key use to let CloudWatch publish for these alarms
 * and no others.
 */

/** Prefix of every ws-ceiling alarm name. */
export const ALARM_NAME_PREFIX = 'ws-ceiling-';

/** The alarms of a target (`below-floor` only when it declares a floor). */
export type AlarmKind = 'regressed' | 'below-floor' | 'probe-failed' | 'probe-missing';

/** CloudWatch alarm name of one of a target's alarms, e.g. `ws-ceiling-chat-regressed`. */
export function alarmName(targetId: string, kind: AlarmKind): string {
  return `${ALARM_NAME_PREFIX}${targetId}-${kind}`;
}
