/**
 * The record step: merges the shards' results into one RunResult (identity,
 * secret-free settings, analysis) and writes it once to the run store. The
 * same function serves the local CLI and, later, the deployed record Lambda.
 */
import { createHash } from 'node:crypto';
import { analyzeRun } from './analysis.js';
import { redactUrl } from './redact.js';
import type { PutRunOutcome, RunStore } from './run-store.js';
import type { ProbePlan, ProbeSettings, PublicSettings, RunResult, ShardResult } from './types.js';
import { PROBE_VERSION } from './version.js';

/** Everything the record step merges. */
export interface RecordInput {
  settings: ProbeSettings;
  plan: ProbePlan;
  shards: readonly ShardResult[];
  /** `local` for the CLI, the AWS region when deployed. */
  region: string;
  /** When the last shard finished, epoch milliseconds. */
  finishedAt: number;
}

/** A recorded run and whether this call wrote it or found it already written. */
export interface RecordedRun {
  run: RunResult;
  stored: PutRunOutcome;
}

/** Analyses the run and writes it to the store (idempotent on the run id). */
export async function recordRun(input: RecordInput, deps: { store: RunStore }): Promise<RecordedRun> {
  const run = buildRunResult(input);
  const stored = await deps.store.putRun(run);
  return { run, stored };
}

/** The RunResult of a finished run: pure, holds no secret. */
export function buildRunResult(input: RecordInput): RunResult {
  const { settings, plan } = input;
  const url = redactUrl(settings.url);
  const shown = publicSettings(settings, plan);
  const analysis = analyzeRun({
    plan,
    shards: input.shards,
    tolerance: settings.tolerance,
    heartbeat: settings.heartbeat.kind,
    url,
    ...(settings.minCeiling !== undefined ? { minCeiling: settings.minCeiling } : {}),
  });
  return {
    runId: plan.runId,
    targetId: plan.targetId,
    url,
    region: input.region,
    startedAt: new Date(plan.startAt).toISOString(),
    finishedAt: new Date(input.finishedAt).toISOString(),
    probeVersion: PROBE_VERSION,
    configHash: configHash(url, shown),
    ...analysis,
    settings: shown,
    baseline: null,
  };
}

/** The settings of a run as they may be printed and stored: header names only, no values. */
export function publicSettings(settings: ProbeSettings, plan: ProbePlan): PublicSettings {
  const { heartbeat } = settings;
  return {
    stages: [...settings.stages],
    holdSeconds: settings.holdSeconds,
    connectRate: settings.connectRate,
    maxInFlight: settings.maxInFlight,
    handshakeTimeoutSeconds: settings.handshakeTimeoutSeconds,
    heartbeat:
      heartbeat.kind === 'off'
        ? { kind: 'off' }
        : heartbeat.kind === 'ping'
          ? { kind: 'ping', intervalSeconds: heartbeat.intervalSeconds, pongTimeoutSeconds: heartbeat.pongTimeoutSeconds }
          : { kind: 'message', intervalSeconds: heartbeat.intervalSeconds },
    headerNames: Object.keys(settings.headers).sort(),
    subprotocols: [...settings.subprotocols],
    tolerance: settings.tolerance,
    maxConnections: settings.maxConnections,
    shardSize: settings.shardSize,
    shards: plan.shards.length,
    ...(settings.minCeiling !== undefined ? { minCeiling: settings.minCeiling } : {}),
  };
}

/** A short stable hash of what makes runs comparable: the redacted URL and the public settings. */
export function configHash(url: string, settings: PublicSettings): string {
  return createHash('sha256').update(JSON.stringify({ url, settings })).digest('hex').slice(0, 16);
}
