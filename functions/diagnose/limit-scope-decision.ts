/**
 * The decision of the limit-scope experiment, from what it saw: a cap or a
 * rate limit was filled from the first source (a local address, or the
 * run's credential), then more connections were opened from each other
 * source (a second address, an alternate credential). If every other source
 * got its own full share, the limit is per source address (or per
 * credential) and `perScope` is the share; if every other source was
 * refused at once, the limit is global. For a rate limit a source's share is
 * what it got through before its first refusal, the sources tried back to
 * back: a global bucket the first source emptied refuses the next at once,
 * one kept per source lets it through as far. Anything in between (a partial
 * share, sources that disagree, a source that failed for another reason, a
 * first source that never reached the limit or got too few through to
 * compare) decides nothing: the answer is undetermined, with the reason,
 * never a guess. The sentence is limitScopeSentence's, from the finding.
 *
 * Sources are named by labels the caller gives (an address, "alternate
 * credential 1"), never by a header value.
 */
/** What kind of second source the experiment used. */
export type ScopeKind = 'source-address' | 'credential';

/** The scope of a limit: per source address, per credential, or one limit for everyone. */
export type LimitScope = ScopeKind | 'global';

/** The limit the run found. */
export type ScopedLimit =
  { kind: 'concurrency-cap'; count: number } | { kind: 'handshake-rate-limit'; perSecond: number };

/** What one source got while the experiment tried it. */
export interface SourceFill {
  /** How the source is named in sentences: an address, or "alternate credential 1"; never a secret. */
  label: string;
  /** Connections that opened (a cap), or handshakes let through before the source's first refusal (a rate limit). */
  admitted: number;
  /** Upgrades refused as the limit refuses them (its HTTP status, or its way of refusing). */
  refused: number;
  /** Failures of any other kind (a 401 for a bad credential, EADDRNOTAVAIL…), in words; absent when none. */
  otherFailure?: string;
}

/** Everything the decision reads. */
export interface LimitScopeInput {
  limit: ScopedLimit;
  scopeKind: ScopeKind;
  first: SourceFill;
  /** One per other source, in the order they were tried. */
  others: readonly SourceFill[];
}

/**
 * The experiment's answer: a scope with its per-scope figure (a cap's count, or for a rate limit the handshakes the
 * first source got through before its first refusal: never the measured rate, which all sources shared), or why
 * there is none.
 */
export type LimitScopeDecision =
  | { kind: 'limit-scope'; scope: LimitScope; perScope: number; sources: number }
  | { kind: 'undetermined'; reason: string };

/**
 * How far short of the first source's share another source may fall and still have "its own full share": a cap
 * gives every source the same count (2 %, at least one connection, for a slot freed or taken meanwhile); a rate
 * limit's windows vary more.
 */
const SHARE_TOLERANCE: Record<ScopedLimit['kind'], number> = { 'concurrency-cap': 0.02, 'handshake-rate-limit': 0.2 };
/** Most a source refused "at once" may still get through: a slot freed meanwhile, a token refilled. */
const AT_ONCE_TOLERANCE: Record<ScopedLimit['kind'], number> = { 'concurrency-cap': 0.02, 'handshake-rate-limit': 0.1 };
/**
 * Fewest handshakes the first source must get through before its first refusal for a rate limit's share to tell
 * "its own" from "refused at once": below it the two readings overlap.
 */
const MIN_RATE_SHARE = 4;

/** What one other source showed. */
type SourceReading = 'own-share' | 'refused-at-once' | 'partial' | 'failed';

/** Decides the scope of the limit from the sources' fills. */
export function decideLimitScope(input: LimitScopeInput): LimitScopeDecision {
  const { limit, first, others } = input;
  if (first.otherFailure !== undefined) {
    return undetermined(`connections from ${first.label} failed for another reason (${first.otherFailure})`);
  }
  if (first.refused === 0 || first.admitted === 0) {
    return undetermined(`${first.label} did not fill the limit: ${describeFill(first, limit)}`);
  }
  if (others.length === 0) return undetermined('there was no second source to compare with');
  if (limit.kind === 'handshake-rate-limit' && first.admitted < MIN_RATE_SHARE) {
    return undetermined(
      `${first.label} got only ${first.admitted} handshakes through before its first refusal, too few to tell ` +
        `another source's own share from a refusal at once (at least ${MIN_RATE_SHARE} needed)`,
    );
  }
  const readings = others.map((other) => readSource(other, first.admitted, limit.kind));
  const failed = others.find((_, index) => readings[index] === 'failed');
  if (failed) {
    return undetermined(`connections from ${failed.label} failed for another reason (${failed.otherFailure ?? ''})`);
  }
  if (readings.every((reading) => reading === 'own-share')) return scoped(input);
  if (readings.every((reading) => reading === 'refused-at-once')) return global(input);
  const said = others.map((other) => `${other.label}: ${describeFill(other, limit)}`).join('; ');
  return undetermined(
    `${first.label} filled the limit (${describeFill(first, limit)}), but the other sources got neither their own ` +
      `full share nor were refused at once (${said}): the limit may be shared in part`,
  );
}

function readSource(source: SourceFill, share: number, kind: ScopedLimit['kind']): SourceReading {
  if (source.otherFailure !== undefined) return 'failed';
  if (source.admitted >= share - Math.max(1, Math.floor(share * SHARE_TOLERANCE[kind]))) return 'own-share';
  const atOnce = Math.max(kind === 'concurrency-cap' ? 0 : 1, Math.floor(share * AT_ONCE_TOLERANCE[kind]));
  if (source.refused > 0 && source.admitted <= atOnce) return 'refused-at-once';
  return 'partial';
}

function scoped(input: LimitScopeInput): LimitScopeDecision {
  const { scopeKind, first, others } = input;
  return { kind: 'limit-scope', scope: scopeKind, perScope: first.admitted, sources: others.length + 1 };
}

function global(input: LimitScopeInput): LimitScopeDecision {
  const { first, others } = input;
  return { kind: 'limit-scope', scope: 'global', perScope: first.admitted, sources: others.length + 1 };
}

function undetermined(reason: string): LimitScopeDecision {
  return { kind: 'undetermined', reason };
}

function sourceNoun(kind: ScopeKind): string {
  return kind === 'source-address' ? 'address' : 'credential';
}

function sourceNouns(kind: ScopeKind): string {
  return kind === 'source-address' ? 'addresses' : 'credentials';
}

function limitWords(limit: ScopedLimit): string {
  return limit.kind === 'concurrency-cap' ? `The cap of ${limit.count}` : 'The handshake rate limit';
}

function describeFill(source: SourceFill, limit: ScopedLimit): string {
  const what = limit.kind === 'concurrency-cap' ? 'opened' : 'let through before the first refusal';
  return `${source.admitted} ${what}, ${source.refused} refused`;
}

/**
 * The sentence of a decided scope, from the finding's values: "The cap of 500 is per source address: a second
 * address got its own 500.", "The cap of 500 is global: a second credential was refused at once." A rate limit's
 * rate was measured from all the run's sources together, so its scoped sentence quotes handshakes let through, not
 * a rate per source: "The handshake rate limit is per source address: a second address got 12 handshakes through
 * after the first was refused at 9.", "The handshake rate limit is global: a second address was refused at once."
 */
export function limitScopeSentence(values: {
  scope: LimitScope;
  sources: number;
  by: ScopeKind;
  limit: ScopedLimit;
  /**
   * What each source got, in the order tried: connections opened (a cap) or handshakes let through before its first
   * refusal (a rate).
   */
  admitted: readonly number[];
}): string {
  const { scope, sources, by, limit, admitted } = values;
  const others = sources - 1;
  const [first = 0, ...rest] = admitted;
  const least = rest.length ? Math.min(...rest) : 0;
  if (scope === 'global') {
    const who = others === 1 ? `a second ${sourceNoun(by)} was` : `${others} other ${sourceNouns(by)} were`;
    return `${limitWords(limit)} is global: ${who} refused at once.`;
  }
  const scopeWords = scope === 'source-address' ? 'per source address' : 'per credential';
  const each = others === 1 ? `a second ${sourceNoun(by)} got` : `${others} other ${sourceNouns(by)} each got`;
  if (limit.kind === 'concurrency-cap') {
    return `${limitWords(limit)} is ${scopeWords}: ${each} ${others === 1 ? 'its' : 'their'} own ${least}.`;
  }
  const leastWords = others === 1 ? String(least) : `at least ${least}`;
  return (
    `The handshake rate limit is ${scopeWords}: ${each} ${leastWords} handshakes through after the first was refused ` +
    `at ${first}.`
  );
}
