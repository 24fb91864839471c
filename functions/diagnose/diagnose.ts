/**
 * The orchestration of `diagnose`: from the recorded ramp run, decides which
 * follow-up experiments can settle what stopped it, runs them one after the
 * other (each bounded in connections by the plan's maximum and in time by the
 * experiment budget) and returns the diagnosis: every finding with its
 * evidence, probe-seconds and sentence, a verdict, and the gates' answer.
 *
 * - refusals in the failing stage: rate or count (with the queueing-gateway
 *   reading of unanswered upgrades, the count check and window limits), then
 *   refinement of a confirmed count limit, or the ramp under a rate limit
 *   for what stands behind it;
 * - drops of open connections (server degradation): refinement;
 * - a cap or a rate limit, with a second source given: its scope (limit-scope.ts);
 * - an idle timeout or maximum lifetime: the heartbeat groups;
 * - the probe's own limits or a failed run: nothing to experiment on.
 */
import { REFUSAL_CLASSES } from '../engine/limiting-factor.js';
import { describeSelfCheckProblems, type SelfCheck } from '../engine/self-check.js';
import type { ProbePlan, ProbeSettings, RunResult, ShardResult } from '../engine/types.js';
import { ProbeLedger, type ExperimentContext, type PlanRunner } from './experiment-probe.js';
import type { Diagnosis, DiagnosisVerdict, Finding, FindingKind, FindingValuesByKind } from './findings.js';
import { runIdleTimeout } from './idle-timeout.js';
import { runLimitScope } from './limit-scope.js';
import { runRateOrCount } from './rate-or-count.js';
import { judgeGate } from './gate.js';
import { runRefinement } from './refinement.js';
import { runUnderRateLimit } from './under-rate-limit.js';
import { makeFinding } from './report.js';

/** Default resolution of the refinement, in connections. */
export const DEFAULT_RESOLUTION = 1;
/** Default seconds each follow-up experiment may take (probing and pauses). */
export const DEFAULT_EXPERIMENT_BUDGET_SECONDS = 300;

/** The recorded ramp the diagnosis starts from, with its raw shard results. */
export interface RampOutcome {
  settings: ProbeSettings;
  plan: ProbePlan;
  shards: readonly ShardResult[];
  run: RunResult;
  selfCheck: SelfCheck;
}

/** How finely and for how long the experiments may probe. */
export interface DiagnoseOptions {
  /** Refinement resolution in connections. */
  resolution: number;
  /** Seconds each experiment may take. */
  budgetSeconds: number;
}

/** What the diagnosis needs from its caller. */
export interface DiagnoseDependencies {
  runPlan: PlanRunner;
  /** Epoch milliseconds. */
  now: () => number;
  /** Fires on Ctrl-C. */
  signal: AbortSignal;
  onProgress: (line: string) => void;
}

/** Runs the follow-up experiments the ramp calls for and returns the diagnosis. */
export async function diagnoseRun(
  ramp: RampOutcome,
  deps: DiagnoseDependencies,
  options: DiagnoseOptions,
): Promise<Diagnosis> {
  const ledger = new ProbeLedger();
  const context: ExperimentContext = { settings: ramp.settings, ...deps, budgetSeconds: options.budgetSeconds, ledger };
  const findings = await experimentsFor(ramp, context, options);
  const { verdict, reason } = judgeDiagnosis(ramp.run, findings);
  return {
    verdict,
    reason,
    gate: judgeGate(ramp.run, findings),
    runId: ramp.run.runId,
    targetId: ramp.run.targetId,
    url: ramp.run.url,
    findings,
    seconds: {
      ramp: Math.round((Date.parse(ramp.run.finishedAt) - Date.parse(ramp.run.startedAt)) / 100) / 10,
      experiments: ledger.probeSeconds,
      waits: ledger.waitSeconds,
    },
    selfCheck: ramp.selfCheck,
    run: ramp.run,
  };
}

async function experimentsFor(
  ramp: RampOutcome,
  context: ExperimentContext,
  options: DiagnoseOptions,
): Promise<Finding[]> {
  const { run, plan } = ramp;
  const factor = run.limitingFactor;
  if (run.verdict === 'failed') return [fromRamp({ kind: 'probe-failure', values: { summary: run.verdictReason } })];
  if (factor?.kind === 'probe-limited')
    return [fromRamp({ kind: 'probe-limited', values: { summary: factor.summary } })];
  if ((factor?.kind === 'idle-timeout' || factor?.kind === 'max-lifetime') && factor.valueSeconds !== undefined) {
    return runIdleTimeout(context, factor.valueSeconds);
  }
  const failing = run.stages.find((stage) => !stage.held);
  const failingStage = failing ? plan.stages[failing.index] : undefined;
  if (!failing || !failingStage) {
    if (run.ceiling.value === null) return [undetermined('the ramp was stopped before any stage failed or held')];
    return [fromRamp({ kind: 'no-limit', values: { max: run.ceiling.value } })];
  }
  if (!factor) return [undetermined(run.verdictReason)];
  const records = ramp.shards.flatMap((shard) => shard.records);
  const findings: Finding[] = [];
  const refused = [...REFUSAL_CLASSES].some((failureClass) => (failing.failedByClass[failureClass] ?? 0) > 0);
  if (refused) {
    context.onProgress('rate or count: reopening around the failing level at slower connect rates');
    findings.push(
      ...(await runRateOrCount(context, {
        records,
        stages: plan.stages,
        failingStage,
        rate: ramp.settings.connectRate,
      })),
    );
  }
  const stopped = () => context.signal.aborted || findings.some((finding) => finding.kind === 'probe-limited');
  const rateLimit = findings.find((finding) => finding.kind === 'handshake-rate-limit');
  if (!stopped() && rateLimit?.kind === 'handshake-rate-limit') {
    findings.push(
      ...(await runUnderRateLimit(context, { limit: rateLimit.values, rampRate: ramp.settings.connectRate })),
    );
  }
  // An exact ceiling only behind a count limit the count check confirmed, or drops that were not refusals.
  const countLimited = findings.some(
    (finding) =>
      (finding.kind === 'concurrency-cap' || finding.kind === 'accept-queue') &&
      finding.experiment !== 'under-rate-limit',
  );
  if (
    !stopped() &&
    (countLimited || (!refused && (factor.kind === 'concurrency-cap' || factor.kind === 'server-degradation')))
  ) {
    context.onProgress('refinement: looking for the exact ceiling');
    findings.push(
      ...(await runRefinement(context, {
        records,
        stages: plan.stages,
        failingStage,
        lastHeld: run.ceiling.value ?? 0,
        resolution: options.resolution,
      })),
    );
  }
  if (!findings.length) return [undetermined(factor.summary)];
  return [...findings, ...(await runLimitScope(context, findings))];
}

/** What a diagnosis the self-check refused starts from: the target, and the check that refused its plan. */
export interface RefusedPlan {
  targetId: string;
  /** The target URL with secrets redacted. */
  url: string;
  selfCheck: SelfCheck;
}

/**
 * The diagnosis of a plan the self-check refused before anything was sent:
 * the same shape as any diagnosis, inconclusive, with one `probe-limited`
 * finding from the `self-check` and no run.
 */
export function refusedDiagnosis(refused: RefusedPlan): Diagnosis {
  const summary = `${describeSelfCheckProblems(refused.selfCheck)} Nothing was sent, and no ceiling is claimed.`;
  const finding = makeFinding({
    kind: 'probe-limited',
    values: { summary },
    experiment: 'self-check',
    evidence: {},
    probeSeconds: 0,
  });
  return {
    verdict: 'inconclusive',
    reason: `The probe itself was the limit, so no ceiling is claimed. ${summary}`,
    gate: null,
    runId: null,
    targetId: refused.targetId,
    url: refused.url,
    findings: [finding],
    seconds: { ramp: 0, experiments: 0, waits: 0 },
    selfCheck: refused.selfCheck,
    run: null,
  };
}

/** The verdict: the probe's own limits or an undecided experiment make it inconclusive; a failed run stays failed. */
function judgeDiagnosis(run: RunResult, findings: readonly Finding[]): { verdict: DiagnosisVerdict; reason: string } {
  if (findings.some((finding) => finding.kind === 'probe-failure'))
    return { verdict: 'failed', reason: run.verdictReason };
  const limited = findings.find((finding) => finding.kind === 'probe-limited');
  if (limited)
    return {
      verdict: 'inconclusive',
      reason: `The probe itself was the limit, so no ceiling is claimed. ${limited.sentence}`,
    };
  const undecided = findings.find((finding) => finding.kind === 'undetermined');
  if (undecided) return { verdict: 'inconclusive', reason: undecided.sentence };
  if (findings.every((finding) => finding.kind === 'no-limit'))
    return { verdict: 'no-limit-found', reason: findings[0]?.sentence ?? run.verdictReason };
  return {
    verdict: 'explained',
    reason: `Explained by experiment: ${findings.map((finding) => finding.kind).join(', ')}.`,
  };
}

function undetermined(reason: string): Finding {
  return fromRamp({ kind: 'undetermined', values: { about: 'ramp', reason } });
}

/** A finding's kind and values, whatever the kind. */
type KindAndValues = { [K in FindingKind]: { kind: K; values: FindingValuesByKind[K] } }[FindingKind];

/** A finding the ramp alone settles, at no probe-seconds beyond it. */
function fromRamp(finding: KindAndValues): Finding {
  return makeFinding({ ...finding, experiment: 'ramp', evidence: {}, probeSeconds: 0 });
}
