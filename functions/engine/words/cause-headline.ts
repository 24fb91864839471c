/**
 * A run's cause in the fewest words: each limiting factor's name, the one
 * sentence the HTML report leads with, and the short answers every summary of
 * a run shares (where drops began, no cause). Read from the stored run, so it
 * works on runs recorded by any version.
 */
import { isNotHttp, isNotUpgrading } from '../classify.js';
import { rejectionKey, setupFailureKey } from '../session-setup.js';
import type { Evidence, FirstFailure, LimitingFactorKind, RunResult } from '../types.js';
import { formatMilliseconds, formatSeconds, NONE } from '../units.js';
import { describeCloses, describeRefusals, listDrops, refusalSource, shortSlowdownClause } from './failure-phrases.js';

/** Each limiting factor in plain words. */
export const CAUSE_NAMES: Record<LimitingFactorKind, string> = {
  'concurrency-cap': 'concurrency cap',
  'handshake-rate-limit': 'handshake rate limit',
  'idle-timeout': 'idle timeout',
  'max-lifetime': 'maximum connection lifetime',
  'server-degradation': 'server degradation',
  'probe-limited': 'probe limited',
  'config-error': 'configuration error',
  unreachable: 'target unreachable',
};

/** The cause of a run that found none, where a summary names the cause. */
export const NO_CAUSE = 'none: nothing failed';

/** Where drops began: `at 150 open connections`, or `no drops`. */
export function describeDropOnset(dropOnset: number | null): string {
  return dropOnset === null ? 'no drops' : `at ${dropOnset} open connections`;
}

/** What the headline reads from a run. */
export type HeadlineRun = Pick<RunResult, 'limitingFactor' | 'ceiling' | 'failures' | 'verdictReason' | 'dropOnset'>;

/**
 * The cause of the ceiling in one plain sentence, for someone who reads
 * nothing else: e.g. "The server refused upgrades with HTTP 503 once 150
 * connections were open: a concurrency cap."
 */
export function describeCause(run: HeadlineRun): string {
  const factor = run.limitingFactor;
  if (!factor) return noCause(run);
  const { evidence } = factor;
  const first = evidence.firstFailure;
  const onset = first?.openCount ?? run.dropOnset;
  const refused = describeRefusals(evidence.failures);
  const after = factor.valueSeconds === undefined ? NONE : formatSeconds(factor.valueSeconds);
  const source = refusalSource(evidence.failures);
  switch (factor.kind) {
    case 'concurrency-cap':
      if (source !== 'upgrade') return sessionCap(evidence, onset);
      return `The server ${refused} once ${onset} connections were open: a concurrency cap.`;
    case 'handshake-rate-limit': {
      const retry = evidence.retryAfter?.length ? ` (Retry-After ${evidence.retryAfter.join(', ')})` : '';
      const rate =
        evidence.sustainableHandshakesPerSecond !== undefined
          ? ` at about ${evidence.sustainableHandshakesPerSecond} per second`
          : '';
      if (source !== 'upgrade') return sessionRateLimit(evidence, retry, rate);
      return (
        `The server ${refused}${retry} while connections kept opening${rate}: a ` +
        'handshake rate limit, not a cap on open connections.'
      );
    }
    case 'idle-timeout':
      return (
        `The server dropped connections ${describeCloses(evidence.failures)} ${after} after their last frame, ` +
        'whatever the open count: an idle timeout, so no ceiling was measured.'
      );
    case 'max-lifetime':
      return (
        `The server closed connections ${describeCloses(evidence.failures)} ${after} after they opened, even ` +
        'with heartbeats: a maximum connection lifetime, so no ceiling was measured.'
      );
    case 'server-degradation':
      return (
        `The server dropped open connections (${listDrops(evidence.failures)}) once ${onset} were open, instead ` +
        `of refusing new ones${shortSlowdownClause(evidence.handshakeP95Ms)}: server degradation.`
      );
    case 'probe-limited':
      return probeLimited(first?.errorCode, onset, evidence.eventLoopDelayMaxMs);
    case 'config-error':
      return configError(first);
    case 'unreachable':
      if (first?.status !== undefined) {
        const statuses = Object.keys(evidence.failures.byStatus).join(' and ');
        return (
          `The target refused every upgrade with HTTP ${statuses} before any connection opened: nothing was ` +
          'measured.'
        );
      }
      return (
        `The target could not be reached (${first?.errorCode ?? 'the upgrade was never answered'}) before ` +
        'any connection opened: nothing was measured.'
      );
  }
}

/** The keys of the sessions refused: `close 4429, ready timeout` or the URL provider's `HTTP 503`. */
function sessionKeys(evidence: Evidence): string {
  const { bySessionRejection = {}, bySessionSetup = {} } = evidence.failures;
  return [...Object.keys(bySessionRejection), ...Object.keys(bySessionSetup)].join(', ');
}

/** A cap on sessions (upgraded, then rejected) or of the URL provider (sessions refused before the upgrade). */
function sessionCap(evidence: Evidence, onset: number | null | undefined): string {
  if (refusalSource(evidence.failures) === 'session') {
    return (
      `The server rejected sessions (${sessionKeys(evidence)}) once ${onset} were ready: a concurrency cap on ` +
      'sessions.'
    );
  }
  return (
    `The URL provider refused new sessions (${sessionKeys(evidence)}) once ${onset} connections were open: a cap ` +
    'of the REST API that hands out sessions, not of the WebSocket gateway.'
  );
}

/** A rate limit on sessions, or of the URL provider. */
function sessionRateLimit(evidence: Evidence, retry: string, rate: string): string {
  if (refusalSource(evidence.failures) === 'session') {
    return (
      `The server rejected sessions (${sessionKeys(evidence)})${retry} while others kept being set up${rate}: a ` +
      'rate limit on sessions, not a cap on open connections.'
    );
  }
  return (
    `The URL provider refused sessions (${sessionKeys(evidence)})${retry} while connections kept opening${rate}: a ` +
    'rate limit of the REST API that hands out sessions, not of the WebSocket gateway.'
  );
}

/** A target that does not take the probe's request: not WebSocket, not HTTP, broken frames or a refusal. */
function configError(first: FirstFailure | undefined): string {
  if (first?.session) {
    return (
      `The server rejected the first session (${rejectionKey(first.session)}): a configuration problem ` +
      '(--init-message, --ready-when or the credentials they carry), not a ceiling.'
    );
  }
  if (first?.setup?.reason === 'signing') {
    return (
      `The upgrade URL could not be signed (${first.setup.errorName}): a credentials problem (--sigv4), not a ` +
      'ceiling.'
    );
  }
  if (first?.setup) {
    return (
      `The URL provider failed the session (${setupFailureKey(first.setup)}): a configuration problem ` +
      '(--session-url-from and its options), not a ceiling.'
    );
  }
  if (first?.protocolError !== undefined) {
    return (
      `The server broke the WebSocket protocol after the upgrade (${first.protocolError}): a protocol error, ` +
      'not a ceiling.'
    );
  }
  if (isNotUpgrading(first?.status)) {
    return (
      `The target answers HTTP ${first?.status} without upgrading: not a WebSocket endpoint, so nothing was ` +
      'measured.'
    );
  }
  if (isNotHttp(first?.errorCode)) {
    return 'The target answers with bytes that are not HTTP: not an HTTP server, so nothing was measured.';
  }
  const answer =
    first?.status !== undefined ? `with HTTP ${first.status}` : `(${first?.errorCode ?? 'handshake not accepted'})`;
  return (
    `The target refused the first connection ${answer}: a configuration problem (URL, headers or ` +
    'subprotocol), not a ceiling.'
  );
}

/** A run without a limiting factor: every stage held (a lower bound), or its verdict's reason (e.g. stopped early). */
function noCause(run: HeadlineRun): string {
  if (run.ceiling.value === null || run.ceiling.reached) return run.verdictReason;
  const failures = run.failures.total === 0 ? 'no failures' : 'failures within tolerance';
  return (
    `Every stage held: ${run.ceiling.value} connections stayed open with ${failures}, so the ceiling is ` +
    `at least ${run.ceiling.value}; no limit was found.`
  );
}

/** The probe as the limit: it ran out (an error code), its event loop was starved, or its self-check stopped it. */
function probeLimited(errorCode: string | undefined, onset: number | null, loopDelayMaxMs: number | undefined): string {
  if (errorCode !== undefined) {
    return (
      `The probe itself ran out (${errorCode}) at ${onset} open connections: this run says ` +
      `nothing about the target's limit.`
    );
  }
  if (loopDelayMaxMs !== undefined) {
    return (
      `The probe's own event loop was starved (delay up to ${formatMilliseconds(loopDelayMaxMs)}), so its timings ` +
      `cannot be trusted: this run says nothing about the target's limit.`
    );
  }
  // Stopped by its own self-check (before a shard or while the run went on); the verdict reason has the figures and the
  // fix.
  return (
    'The probe stopped itself because its own machine was running short (descriptors, memory or heap): ' +
    `this run says nothing about the target's limit.`
  );
}
