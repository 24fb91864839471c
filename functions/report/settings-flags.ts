/**
 * A run's public settings spoken as the `ws-ceiling run` flags that produce
 * them: for a command that reproduces the run, and for naming the settings in
 * which two runs differ. Header values and query values were never stored,
 * so the command carries placeholders where they go. A run of the bundled
 * simulator is repeated with its `--simulate` spec, not its URL, whose port
 * was gone when the run ended.
 */
import { REDACTED } from '../engine/redact.js';
import type { PublicSettings, RunResult } from '../engine/types.js';

/** Placeholder for a header value or heartbeat payload the reader fills in. */
export const VALUE_PLACEHOLDER = '<value>';

/** One flag as given on the command line; repeatable flags appear once per value, a switch (`--sigv4`) with `''`. */
export interface SettingFlag {
  flag: string;
  value: string;
}

/** The `run` flags that reproduce `settings`, in the order of `ws-ceiling run --help`. */
export function settingsFlags(settings: PublicSettings): SettingFlag[] {
  const flags: SettingFlag[] = [
    ...(settings.simulate !== undefined ? [{ flag: '--simulate', value: settings.simulate }] : []),
    { flag: '--stages', value: settings.stages.join(',') },
    { flag: '--hold', value: String(settings.holdSeconds) },
    { flag: '--rate', value: String(settings.connectRate) },
    { flag: '--max-in-flight', value: String(settings.maxInFlight) },
    { flag: '--handshake-timeout', value: String(settings.handshakeTimeoutSeconds) },
  ];
  const { heartbeat } = settings;
  if (heartbeat.kind === 'off') flags.push({ flag: '--ping', value: 'off' });
  else {
    flags.push({ flag: '--ping', value: String(heartbeat.intervalSeconds) });
    if (heartbeat.kind === 'ping') flags.push({ flag: '--pong-timeout', value: String(heartbeat.pongTimeoutSeconds) });
    else flags.push({ flag: '--heartbeat-message', value: VALUE_PLACEHOLDER });
  }
  for (const name of settings.headerNames) flags.push({ flag: '--header', value: `${name}: ${VALUE_PLACEHOLDER}` });
  for (const name of settings.subprotocols) flags.push({ flag: '--subprotocol', value: name });
  if (settings.sourceAddresses?.length) {
    flags.push({ flag: '--source-address', value: settings.sourceAddresses.join(',') });
  }
  flags.push(...sessionFlags(settings));
  const tolerance =
    settings.tolerance.kind === 'percent' ? `${settings.tolerance.value}%` : String(settings.tolerance.value);
  flags.push(
    { flag: '--tolerance', value: tolerance },
    { flag: '--max-connections', value: String(settings.maxConnections) },
    { flag: '--shard-size', value: String(settings.shardSize) },
  );
  if (settings.minCeiling !== undefined) flags.push({ flag: '--min-ceiling', value: String(settings.minCeiling) });
  return flags;
}

/**
 * The flags of a run's session, URL provider and signing: `<value>` where init messages, header values and bodies go.
 */
function sessionFlags({ session, sessionUrlSource: source, sigv4 }: PublicSettings): SettingFlag[] {
  const flags: SettingFlag[] = [];
  for (let i = 0; i < (session?.initMessages ?? 0); i += 1) {
    flags.push({ flag: '--init-message', value: VALUE_PLACEHOLDER });
  }
  if (session?.readyWhen !== undefined) {
    flags.push(
      { flag: '--ready-when', value: session.readyWhen },
      { flag: '--ready-timeout', value: String(session.readyTimeoutSeconds) },
    );
  }
  if (source) {
    flags.push({ flag: '--session-url-from', value: source.from }, { flag: '--session-url-path', value: source.path });
    for (const name of source.headerNames) {
      flags.push({ flag: '--session-url-header', value: `${name}: ${VALUE_PLACEHOLDER}` });
    }
    if (source.body) flags.push({ flag: '--session-url-body', value: VALUE_PLACEHOLDER });
    if (source.ratePerSecond !== undefined) {
      flags.push({ flag: '--session-url-rate', value: String(source.ratePerSecond) });
    }
    flags.push({ flag: '--session-url-timeout', value: String(source.timeoutSeconds) });
  }
  if (sigv4) {
    flags.push(
      { flag: '--sigv4', value: '' },
      { flag: '--sigv4-region', value: sigv4.region },
      { flag: '--sigv4-service', value: sigv4.service },
    );
  }
  return flags;
}

/**
 * The `ws-ceiling run` command line for `run`, secret-free: the stored URL
 * (query values read `redacted`), or `--simulate <spec>` for a run of the
 * bundled simulator, and `<value>` where header values and a heartbeat
 * payload go. Every argument is quoted for a POSIX shell when needed.
 */
export function reproduceCommand(run: Pick<RunResult, 'url' | 'targetId' | 'settings'>): string {
  return reproduceWords(run).join(' ');
}

/** The words of {@link reproduceCommand}, each already quoted for a shell, for a page that keeps each word whole. */
export function reproduceWords(run: Pick<RunResult, 'url' | 'targetId' | 'settings'>): string[] {
  const words = [
    'ws-ceiling',
    'run',
    ...(run.settings.simulate === undefined ? [run.url] : []),
    '--target-id',
    run.targetId,
  ];
  for (const { flag, value } of settingsFlags(run.settings)) words.push(flag, ...(value === '' ? [] : [value]));
  return words.map(shellQuote);
}

/** What the reader must put back into {@link reproduceCommand}'s command before running it. */
export interface ValuesToFillIn {
  /** The command holds `<value>` for header values or a heartbeat payload. */
  placeholders: boolean;
  /** The command's URL holds query values shown as `redacted`. */
  redactedQuery: boolean;
}

/** Which values were left out of the reproduce command of `run`. */
export function valuesToFillIn(run: Pick<RunResult, 'url' | 'targetId' | 'settings'>): ValuesToFillIn {
  return {
    placeholders: reproduceCommand(run).includes(VALUE_PLACEHOLDER),
    redactedQuery: run.settings.simulate === undefined && new URL(run.url).search.includes(`=${REDACTED}`),
  };
}

/** Quotes a word for a POSIX shell when it holds anything but safe characters. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
