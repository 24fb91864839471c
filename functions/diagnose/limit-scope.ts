/**
 * The limit-scope experiment of `diagnose`: once a cap or a handshake rate
 * limit is found and the user gave a second source (`--source-address A,B,…`
 * or `--alternate-header`), is the limit per source address, per
 * credential, or one limit for everyone? One plan, one shard per source,
 * each opening its share in its own stage: the first source fills the limit
 * (a little past the cap, or at the ramp's refused rate), and while its
 * connections stay open each other source opens as many. Against a rate
 * limit the sources go back to back with no hold between them (a hold would
 * refill a global bucket), after a pause that refills the buckets, and each
 * source's share is what it got through before its first refusal. What each
 * got is decided by limit-scope-decision.ts; anything unclear is
 * undetermined, with the reason. The plan's maximum bounds every source's
 * share together: when it is too small for a share past the whole limit,
 * two sources share it (enough for a limit kept per source, which a ramp
 * spread over several addresses found as their sum), and an undecided
 * answer says how far to raise it.
 *
 * Sources are named by address, or as the run's credential and the
 * alternate one: never by a header value.
 */
import { collectFailures } from '../engine/failures.js';
import { REFUSAL_CLASSES } from '../engine/limiting-factor.js';
import { planRun } from '../engine/plan.js';
import type { ProbeSettings } from '../engine/types.js';
import {
  experimentSettings,
  maxExperimentConnections,
  pause,
  runExperimentPlan,
  stoppedFinding,
  type ExperimentContext,
  type ExperimentRun,
} from './experiment-probe.js';
import type { Finding } from './findings.js';
import { decideLimitScope, type ScopedLimit, type ScopeKind, type SourceFill } from './limit-scope-decision.js';
import { makeFinding } from './report.js';

/** Connections a source opens past the cap, at least: enough to see it refused. */
const MIN_PAST_CAP = 2;
/** Fraction of the cap a source opens past it. */
const PAST_CAP_FRACTION = 0.1;
/** Seconds each source's stage is held once opened, before the next source opens (a cap; a rate limit has none). */
const HOLD_SECONDS = 0.5;
/** Most seconds to wait for the buckets to refill before a rate limit's sources are tried. */
const MAX_REFILL_SECONDS = 10;
/** Delay before the experiment's first stage, so every shard is ready. */
const START_DELAY_MS = 100;

/** One source of connections: how it is named, and what it changes in the run's connections. */
interface Source {
  label: string;
  connection: Partial<Pick<ProbeSettings, 'headers' | 'sourceAddresses'>>;
}

/** The sources the user gave, or undefined without a second one. */
function sourcesOf(settings: ProbeSettings): { by: ScopeKind; sources: Source[] } | undefined {
  const addresses = settings.sourceAddresses ?? [];
  if (addresses.length >= 2) {
    return {
      by: 'source-address',
      sources: addresses.map((address) => ({ label: address, connection: { sourceAddresses: [address] } })),
    };
  }
  const alternate = settings.alternateHeaders;
  if (!alternate || Object.keys(alternate).length === 0) return undefined;
  const replaced = new Set(Object.keys(alternate).map((name) => name.toLowerCase()));
  const kept = Object.entries(settings.headers).filter(([name]) => !replaced.has(name.toLowerCase()));
  return {
    by: 'credential',
    sources: [
      { label: "the run's credential (--header)", connection: { headers: settings.headers } },
      { label: 'the alternate credential', connection: { headers: { ...Object.fromEntries(kept), ...alternate } } },
    ],
  };
}

/** The limit the other experiments found: a cap with its count, or a rate limit with its rate. */
function limitOf(findings: readonly Finding[]): { limit: ScopedLimit; refillSeconds: number } | undefined {
  for (const finding of findings) {
    if (finding.kind === 'concurrency-cap') {
      return { limit: { kind: 'concurrency-cap', count: finding.values.count }, refillSeconds: 0 };
    }
    if (finding.kind === 'handshake-rate-limit' && finding.values.perSecond !== null) {
      const { perSecond, burst, window } = finding.values;
      // A window frees in its seconds; a bucket refills its burst at its rate (both measured over all sources).
      const refill = window ? window.seconds : burst !== null ? burst / perSecond : 1;
      return {
        limit: { kind: 'handshake-rate-limit', perSecond },
        refillSeconds: Math.min(MAX_REFILL_SECONDS, refill),
      };
    }
  }
  return undefined;
}

/**
 * Runs the experiment when the findings hold a cap or a rate limit and the settings a second source; no finding
 * otherwise (nor after Ctrl-C or the probe's own limits).
 */
export async function runLimitScope(context: ExperimentContext, findings: readonly Finding[]): Promise<Finding[]> {
  const given = sourcesOf(context.settings);
  const found = limitOf(findings);
  const stopped = context.signal.aborted || findings.some((finding) => finding.kind === 'probe-limited');
  if (!given || !found || stopped) return [];
  const { limit, refillSeconds } = found;
  context.onProgress(`limit-scope: filling the limit from ${given.sources[0]?.label}, then from each other source`);
  const max = maxExperimentConnections(context.settings);
  const wanted =
    limit.kind === 'concurrency-cap'
      ? limit.count + Math.max(MIN_PAST_CAP, Math.ceil(limit.count * PAST_CAP_FRACTION))
      : Math.floor(max / given.sources.length);
  // Every source when each can have its share, else two sharing the plan's maximum.
  const count = wanted * given.sources.length <= max ? given.sources.length : 2;
  const share = Math.min(wanted, Math.floor(max / count));
  if (share < MIN_PAST_CAP) {
    return [undetermined(`the plan's maximum of ${max} connections is too small to share between two sources`)];
  }
  const sources = given.sources.slice(0, count);
  await pause(context, refillSeconds);
  const outcome = await runSources(context, sources, share, limit);
  const steps = outcome.fills.map((fill) => describeFill(fill, limit));
  if (outcome.run.stop)
    return [stoppedFinding(context, 'limit-scope', outcome.run.stop, outcome.run.probeSeconds, steps)];
  const [first, ...others] = outcome.fills;
  if (!first) return [undetermined('no source was tried')];
  const decided = decideLimitScope({
    limit: limit.kind === 'concurrency-cap' ? { kind: limit.kind, count: first.admitted } : limit,
    scopeKind: given.by,
    first,
    others,
  });
  const evidence = { steps, ...(Object.keys(outcome.statuses).length ? { statuses: outcome.statuses } : {}) };
  if (decided.kind === 'undetermined') {
    const room =
      share < wanted
        ? `; the plan's maximum of ${max} left ${share} connections per source, fewer than the ${wanted} that ` +
          `would fill ${limitValue(limit)} from one: raise --max or the last of --stages to ${wanted * count}`
        : '';
    return [undetermined(`${decided.reason}${room}`, evidence, outcome.run.probeSeconds)];
  }
  return [
    makeFinding({
      kind: 'limit-scope',
      values: {
        scope: decided.scope,
        // A cap's count per source; for a rate limit, the handshakes a source got through before it was refused.
        perScope: decided.perScope,
        sources: decided.sources,
        by: given.by,
        limit: limit.kind === 'concurrency-cap' ? { kind: limit.kind, count: first.admitted } : limit,
        admitted: outcome.fills.map((fill) => fill.admitted),
      },
      experiment: 'limit-scope',
      evidence,
      probeSeconds: outcome.run.probeSeconds,
    }),
  ];
}

/**
 * Opens `share` connections from each source in turn (one shard and one stage each), holding them all to the end;
 * against a rate limit, back to back.
 */
async function runSources(
  context: ExperimentContext,
  sources: readonly Source[],
  share: number,
  limit: ScopedLimit,
): Promise<{ run: ExperimentRun; fills: SourceFill[]; statuses: Record<string, number> }> {
  const settings = experimentSettings(context.settings, {
    stages: sources.map((_, index) => share * (index + 1)),
    holdSeconds: limit.kind === 'concurrency-cap' ? HOLD_SECONDS : 0,
    shardSize: share,
  });
  const planned = planRun(settings, { now: context.now, newRunId: () => 'experiment', startDelayMs: START_DELAY_MS });
  // Shard i opens its whole share in stage i, at the full rate: the sources take turns.
  const plan = {
    ...planned,
    shards: planned.shards.map((shard) => ({
      ...shard,
      newPerStage: sources.map((_, stage) => (stage === shard.index ? share : 0)),
      connectRate: settings.connectRate,
      maxInFlight: settings.maxInFlight,
    })),
  };
  const run = await runExperimentPlan(context, {
    settings,
    plan,
    connectionOf: (shard) => sources[shard]?.connection,
  });
  const failures = collectFailures(run.records, run.stages);
  const statuses: Record<string, number> = {};
  const fills = sources.map((source, shard): SourceFill => {
    const own = failures.filter((event) => event.record.shard === shard);
    const refusals = own.filter((event) => REFUSAL_CLASSES.has(event.failureClass));
    for (const { record } of refusals) {
      if (record.status !== undefined) statuses[String(record.status)] = (statuses[String(record.status)] ?? 0) + 1;
    }
    const other = own.filter((event) => !REFUSAL_CLASSES.has(event.failureClass));
    const otherClasses = [...new Set(other.map((event) => event.failureClass))];
    const opened = run.records.filter((record) => record.shard === shard && record.outcome === 'opened');
    const firstRefusal = Math.min(...refusals.map(({ record }) => record.attemptedAt));
    return {
      label: source.label,
      admitted:
        limit.kind === 'concurrency-cap'
          ? opened.length
          : opened.filter((record) => record.attemptedAt < firstRefusal).length,
      refused: refusals.length,
      ...(other.length ? { otherFailure: `${other.length} × ${otherClasses.join(', ')}` } : {}),
    };
  });
  return { run, fills, statuses };
}

function limitValue(limit: ScopedLimit): string {
  return limit.kind === 'concurrency-cap' ? `the cap of ${limit.count}` : `the rate limit of ${limit.perSecond}/s`;
}

function describeFill(fill: SourceFill, limit: ScopedLimit): string {
  const what = limit.kind === 'concurrency-cap' ? 'opened and held' : 'let through before its first refusal';
  const other = fill.otherFailure === undefined ? '' : `, other failures: ${fill.otherFailure}`;
  return `${fill.label}: ${fill.admitted} ${what}, ${fill.refused} refused${other}`;
}

function undetermined(reason: string, evidence: Finding['evidence'] = {}, probeSeconds = 0): Finding {
  return makeFinding({
    kind: 'undetermined',
    values: { about: 'limit-scope', reason },
    experiment: 'limit-scope',
    evidence,
    probeSeconds,
  });
}
