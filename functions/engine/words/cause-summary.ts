/**
 * The summary stored with a run: one plain sentence a person can act on, per
 * limiting factor, with its figures. limiting-factor.ts decides the factor and
 * gathers these facts; this module only words them.
 */
import { isNotHttp, isNotUpgrading } from '../classify.js';
import type { SigV4Settings } from '../execute-api.js';
import { probeLimitFix, type SelfCheckResource } from '../self-check.js';
import type { SessionRejection } from '../session-handshake.js';
import type { SessionSetupFailure } from '../session-setup.js';
import type { DurationSpread, FailureCounts, HandshakeP95, HeartbeatSettings } from '../types.js';
import { formatMsAsSeconds, formatSeconds } from '../units.js';
import { countDrops, countRefusals, nameCloseCodes, refusalSource, slowdownClause } from './failure-phrases.js';

/** What the summary of each limiting factor says, as facts; the probe's own limits come in two kinds. */
export type SummaryFacts =
  | {
      kind: 'concurrency-cap';
      failures: FailureCounts;
      /** Open connections at the first refusal. */
      onset: number;
    }
  | {
      kind: 'handshake-rate-limit';
      failures: FailureCounts;
      retryAfter: readonly string[];
      /** Open connections at the first refusal, and the most open after it. */
      onset: number;
      peak: number;
      /** Handshakes per second let through while refusing; undefined when the refusals were too brief to say. */
      perSecond: number | undefined;
    }
  | { kind: 'server-degradation'; failures: FailureCounts; onset: number; handshakeP95Ms: HandshakeP95 }
  | {
      kind: 'idle-timeout';
      failures: FailureCounts;
      drops: number;
      idle: DurationSpread;
      heartbeat: HeartbeatSettings['kind'];
      /** Whether heartbeats went out before most of the drops (false: none was due yet). */
      heartbeatsSent: boolean;
    }
  | { kind: 'max-lifetime'; failures: FailureCounts; drops: number; age: DurationSpread; heartbeatsSent: boolean }
  | {
      kind: 'config-error';
      url: string;
      status?: number;
      errorCode?: string;
      errorMessage?: string;
      /** How the upgrade URLs were signed (`--sigv4`), when they were: a 403 then names the signature. */
      sigv4?: SigV4Settings;
    }
  | {
      kind: 'protocol-error';
      url: string;
      /** ws's message for the frame it rejected. */
      message: string;
      /** The code ws closed with (1002, 1007, 1009). */
      closeCode: number;
      openCount: number;
    }
  /** The session of a connection was rejected before any was ready. */
  | { kind: 'session-rejected'; url: string; rejection: SessionRejection; openCount: number }
  /** A connection's session could not be set up: the URL provider failed, or the URL could not be signed. */
  | { kind: 'session-setup-failed'; url: string; failure: SessionSetupFailure; openCount: number }
  /** Nothing ever opened, and every upgrade was refused with an HTTP status (500, 503, 429…). */
  | { kind: 'refused-before-open'; url: string; failures: FailureCounts }
  | {
      kind: 'unreachable';
      url: string;
      /** TCP connected but the upgrade was never answered. */
      unanswered: boolean;
      errorCode?: string;
      errorMessage?: string;
    }
  | {
      kind: 'probe-ran-out';
      resource: SelfCheckResource;
      errorCode?: string;
      openCount: number;
      shardsShareProcess: boolean;
    }
  | {
      kind: 'probe-starved';
      p99Ms: number;
      worstMs: number;
      /** Event-loop delay p99 from which the probe counts as starved. */
      starvedMs: number;
      shardsShareProcess: boolean;
    };

/** What each resource of the probe's host is called in a sentence. */
const RESOURCE_WORDS = {
  descriptors: 'file descriptors',
  'ephemeral-ports': 'local ports',
  memory: 'memory',
  heap: 'V8 heap',
} as const;

/** The summary sentence of a limiting factor, from its facts. */
export function summarizeCause(facts: SummaryFacts): string {
  switch (facts.kind) {
    case 'concurrency-cap':
      return capSummary(facts);
    case 'handshake-rate-limit':
      return rateLimitSummary(facts);
    case 'server-degradation':
      return (
        `Server degradation from ${facts.onset} open connections: ${countDrops(facts.failures)}` +
        `${slowdownClause(facts.handshakeP95Ms)}. Open connections were dropped rather than new ones refused.`
      );
    case 'idle-timeout':
      return idleTimeoutSummary(facts);
    case 'max-lifetime': {
      const { age } = facts;
      const despite = facts.heartbeatsSent ? 'even with heartbeats' : 'however recently a frame had arrived';
      return (
        `Maximum connection lifetime of ${formatSeconds(age.medianSeconds)}: ${facts.drops} connections were ` +
        `closed (${nameCloseCodes(facts.failures.byCloseCode)}) ${formatSeconds(age.medianSeconds)} after they ` +
        `opened (${range(age)}), whatever the open count, ${despite}. This is a duration limit, not a ` +
        'concurrency ceiling.'
      );
    }
    case 'config-error':
      return configErrorSummary(facts);
    case 'session-rejected':
      return sessionRejectedSummary(facts);
    case 'session-setup-failed':
      return sessionSetupSummary(facts);
    case 'protocol-error':
      return (
        `The server broke the WebSocket protocol after the upgrade, at ${facts.openCount} open connections ` +
        `(${facts.message}; the probe closed with ${facts.closeCode}) at ${facts.url}: a protocol error, not a ` +
        'capacity limit. Check that the URL is the WebSocket endpoint and that no proxy in between rewrites ' +
        'frames. This is a probe failure, not a ceiling.'
      );
    case 'refused-before-open':
      return (
        `${facts.url} refused every upgrade (${countRefusals(facts.failures)}) before any connection opened: ` +
        `check that the target is up and serves WebSocket there. Nothing was measured; this is a probe failure, ` +
        'not a ceiling.'
      );
    case 'unreachable': {
      const why = facts.unanswered
        ? 'TCP connected but the upgrade was never answered'
        : `${facts.errorCode ?? 'error'}${facts.errorMessage ? `: ${facts.errorMessage}` : ''}`;
      return (
        `Could not reach ${facts.url} (${why}) before any connection opened: check the URL and that the ` +
        'target is running. This is a probe failure, not a ceiling.'
      );
    }
    case 'probe-ran-out':
      return (
        `The probe itself ran out of ${RESOURCE_WORDS[facts.resource]} (${facts.errorCode ?? 'resources'}) at ` +
        `${facts.openCount} open connections, so this run cannot say where the target's limit is. Fix: ` +
        `${probeLimitFix(facts.resource, facts.shardsShareProcess)}.`
      );
    case 'probe-starved':
      return (
        `The probe's event loop was starved (p99 delay ${Math.round(facts.p99Ms)} ms, up to ` +
        `${Math.round(facts.worstMs)} ms; ${facts.starvedMs} ms or more is starved), so its timings cannot be ` +
        `trusted. Fix: ${probeLimitFix('event-loop', facts.shardsShareProcess)}.`
      );
  }
}

/** The status API Gateway answers an upgrade whose SigV4 signature it does not accept. */
const SIGNATURE_REFUSED = 403;

/** A target that refuses the probe's request itself: a status, an answer that is not HTTP, a handshake ws rejects. */
function configErrorSummary(facts: Extract<SummaryFacts, { kind: 'config-error' }>): string {
  const failure = 'This is a probe failure, not a ceiling.';
  if (isNotUpgrading(facts.status)) {
    return (
      `${facts.url} answers HTTP ${facts.status} without upgrading: not a WebSocket endpoint. Check the URL's ` +
      `path. ${failure}`
    );
  }
  if (isNotHttp(facts.errorCode)) {
    return (
      `${facts.url} answers with bytes that are not HTTP (${facts.errorMessage ?? facts.errorCode}): not an HTTP ` +
      `server. Check the URL's port, and wss:// for a TLS port. ${failure}`
    );
  }
  const answer = facts.status !== undefined ? `HTTP ${facts.status}` : `${facts.errorMessage ?? facts.errorCode}`;
  if (facts.sigv4 && facts.status === SIGNATURE_REFUSED) {
    const { region, service } = facts.sigv4;
    return (
      `The target refused the signed upgrade (${answer}) at ${facts.url}: check the SigV4 signature first: the ` +
      `credentials it was signed with (the default credential chain locally, the worker's role when deployed) and ` +
      `their permission to invoke the API, the region ${region} and service ${service} it was signed for ` +
      `(--sigv4-region, --sigv4-service), and this machine's clock (AWS refuses a signature more than 5 minutes ` +
      `off); then the URL, --header values and --subprotocol. ${failure}`
    );
  }
  return (
    `The target refused the connection as misconfigured (${answer}) at ${facts.url}: check the URL, --header ` +
    `values and --subprotocol. ${failure}`
  );
}

/** What the URL provider's limits are, said once for each of its sentences. */
const PROVIDER_NOT_GATEWAY =
  'This is the limit of the REST API that hands out sessions (--session-url-from), not of the WebSocket gateway';

/** A cap: on upgrades, on sessions (upgraded, then rejected), or of the URL provider. */
function capSummary(facts: Extract<SummaryFacts, { kind: 'concurrency-cap' }>): string {
  const { onset } = facts;
  const counted = countRefusals(facts.failures);
  switch (refusalSource(facts.failures)) {
    case 'session':
      return (
        `Session cap at ${onset}: every connection was upgraded, but sessions were rejected (${counted}) once ` +
        `${onset} sessions were ready, and none was set up after the first rejection.`
      );
    case 'url-provider':
      return (
        `Cap of the URL provider at ${onset}: it refused new sessions (${counted}) once ${onset} connections were ` +
        `open, and none opened after the first refusal. ${PROVIDER_NOT_GATEWAY}.`
      );
    case 'upgrade':
      return (
        `Concurrency cap at ${onset}: upgrades failed (${counted}) once ${onset} connections were open, and none ` +
        'opened after the first refusal.'
      );
  }
}

/** The session of a connection rejected before any was ready: the server says no to the probe's session itself. */
function sessionRejectedSummary(facts: Extract<SummaryFacts, { kind: 'session-rejected' }>): string {
  const { url, rejection } = facts;
  const where = facts.openCount === 0 ? 'before any session was ready' : `at ${facts.openCount} open connections`;
  const check = 'check --init-message (and the credentials it carries) and --ready-when';
  const excerpt = rejection.excerpt ? ` ("${rejection.excerpt}")` : '';
  const failure = 'This is a probe failure, not a ceiling.';
  switch (rejection.reason) {
    case 'ready-timeout':
      return (
        `${url} upgraded the connection, but no message matching --ready-when came within ` +
        `${formatMsAsSeconds(rejection.afterMs)} ${where}: check --ready-when (the server's ready message, e.g. ` +
        `connection_ack) and --init-message. ${failure}`
      );
    case 'error-message': {
      const close = rejection.closeCode === undefined ? '' : ` and closed it with ${rejection.closeCode}`;
      return (
        `${url} upgraded the connection, then answered its session with an error message${excerpt}${close} ` +
        `${where}: ${check}. ${failure}`
      );
    }
    case 'closed':
      return (
        `${url} upgraded the connection, then closed it with ${rejection.closeCode ?? 1006}${excerpt} ${where}: ` +
        `${check}. ${failure}`
      );
  }
}

/** A session that could not be set up in a way no load explains: the URL provider's call or signing is wrong. */
function sessionSetupSummary(facts: Extract<SummaryFacts, { kind: 'session-setup-failed' }>): string {
  const { failure } = facts;
  const where =
    facts.openCount === 0
      ? `before any connection to ${facts.url} opened`
      : `at ${facts.openCount} open connections to ${facts.url}`;
  const end = 'This is a probe failure, not a ceiling.';
  switch (failure.reason) {
    case 'status':
      return (
        `The URL provider (--session-url-from) answered HTTP ${failure.status} ${where}: check its URL, ` +
        `--session-url-header values and --session-url-body. ${end}`
      );
    case 'timeout':
      return (
        `The URL provider (--session-url-from) did not answer within --session-url-timeout ${where}: check its URL ` +
        `and that it is up. ${end}`
      );
    case 'network':
      return (
        `The URL provider (--session-url-from) could not be reached (${failure.errorCode}) ${where}: check its ` +
        `URL. ${end}`
      );
    case 'bad-response':
      return (
        `The URL provider's answer could not be used (${failure.detail}) ${where}: check --session-url-path. ` + end
      );
    case 'signing':
      return (
        `The upgrade URL could not be signed (${failure.errorName}) ${where}: check the AWS credentials (--sigv4 ` +
        `takes them from the default chain) and --sigv4-region. ${end}`
      );
  }
}

function rateLimitSummary(facts: Extract<SummaryFacts, { kind: 'handshake-rate-limit' }>): string {
  const { retryAfter, perSecond } = facts;
  const retry = retryAfter.length ? `, Retry-After ${retryAfter.join(', ')}` : '';
  const rate = perSecond !== undefined ? ` at about ${perSecond} per second` : '';
  const tooBrief =
    perSecond === undefined
      ? ' The refusals lasted too briefly to estimate the rate let through: ws-ceiling diagnose measures it.'
      : '';
  const rose = `the open count rose from ${facts.onset} to ${facts.peak}`;
  const source = refusalSource(facts.failures);
  if (source === 'session') {
    return (
      `Session rate limit: sessions were rejected (${countRefusals(facts.failures)}${retry}) while others kept ` +
      `being set up${rate}; ${rose} after the first rejection, so the limit is on the rate, not the count. Ramp ` +
      `more slowly (--rate) to pass it.${tooBrief}`
    );
  }
  if (source === 'url-provider') {
    return (
      `Rate limit of the URL provider: it refused calls (${countRefusals(facts.failures)}${retry}) while ` +
      `connections kept opening${rate}; ${rose} after the first refusal. ${PROVIDER_NOT_GATEWAY}: pace its calls ` +
      `(--session-url-rate) or ramp more slowly (--rate).${tooBrief}`
    );
  }
  return (
    `Handshake rate limit: upgrades were refused (${countRefusals(facts.failures)}${retry}) while connections kept ` +
    `opening${rate}; the open count rose from ${facts.onset} to ${facts.peak} after the first refusal, so the ` +
    `limit is on the rate, not the count. Ramp more slowly (--rate) to pass it.${tooBrief}`
  );
}

function idleTimeoutSummary(facts: Extract<SummaryFacts, { kind: 'idle-timeout' }>): string {
  const { idle, heartbeat } = facts;
  const under = formatSeconds(idle.medianSeconds);
  let advice: string;
  if (heartbeat === 'off') {
    advice = `Keep connections alive with --ping under ${under} to measure the concurrency ceiling.`;
  } else if (!facts.heartbeatsSent) {
    advice =
      `No heartbeat was due before these closes, so the last frame was the opening handshake and an idle ` +
      `timeout cannot be told from a maximum lifetime: run with --ping under ${under}, or ws-ceiling diagnose, ` +
      `to tell them apart.${applicationCloseNote(facts.failures.byCloseCode)}`;
  } else {
    advice =
      `The ${heartbeat === 'ping' ? 'protocol pings' : 'application heartbeats'} sent did not reset it: try ` +
      'the other kind of heartbeat or a shorter interval.';
  }
  return (
    `Idle timeout of ${under}: ${facts.drops} connections were closed ` +
    `(${nameCloseCodes(facts.failures.byCloseCode)}) ${under} after their last ` +
    `frame (${range(idle)}), whatever the open count. ${advice}`
  );
}

/**
 * ` Close code 1008 …` when the closes carry 1008 (policy violation) or an
 * application code (4000–4999): the application may be refusing the
 * connections rather than timing them out. Empty otherwise.
 */
function applicationCloseNote(byCloseCode: Record<string, number>): string {
  const codes = Object.keys(byCloseCode).filter((code) => code === '1008' || /^4\d{3}$/.test(code));
  if (!codes.length) return '';
  return (
    ` A close with code ${codes.join(' or ')} comes from the application rather than a timer: it may be ` +
    'refusing these connections (authentication, a missing --header).'
  );
}

/** A spread's range: `29.8–30.4 s`. */
function range(spread: DurationSpread): string {
  return `${spread.minSeconds.toFixed(1)}–${spread.maxSeconds.toFixed(1)} s`;
}
