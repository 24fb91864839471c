/**
 * Builders of synthetic connection records and plans for the pure analysis
 * tests: times are milliseconds from a fixed epoch so expectations are exact.
 */
import type { CloseRecord, ConnectionRecord, ProbePlan, ShardResult, StagePlan } from '../../functions/engine/types.js';

/** Epoch every synthetic run starts at. */
export const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);

let nextId = 0;

/** A connection that opened at `at` ms after T0, optionally closed later. */
export function opened(stage: number, at: number, close?: Partial<CloseRecord> & { at: number }): ConnectionRecord {
  const record: ConnectionRecord = {
    shard: 0,
    id: nextId++,
    stage,
    attemptedAt: T0 + at - 1,
    tcpConnectedAt: T0 + at - 0.5,
    outcome: 'opened',
    settledAt: T0 + at,
    handshakeMs: 1,
  };
  if (close) {
    const closeAt = T0 + close.at;
    record.close = {
      code: 1006,
      reason: '',
      frameReceived: false,
      closedBy: 'server',
      ageMs: closeAt - record.settledAt,
      sinceInboundMs: closeAt - record.settledAt,
      sinceOutboundMs: closeAt - record.settledAt,
      ...close,
      at: closeAt,
    };
  }
  return record;
}

/** An upgrade refused with `status` at `at` ms after T0. */
export function refused(stage: number, at: number, status: number, retryAfter?: string): ConnectionRecord {
  return {
    shard: 0,
    id: nextId++,
    stage,
    attemptedAt: T0 + at - 1,
    tcpConnectedAt: T0 + at - 0.5,
    outcome: 'rejected',
    settledAt: T0 + at,
    handshakeMs: 1,
    status,
    ...(retryAfter ? { retryAfter } : {}),
  };
}

/** A connect error with a Node error code at `at` ms after T0. */
export function connectError(stage: number, at: number, errorCode: string): ConnectionRecord {
  return {
    shard: 0,
    id: nextId++,
    stage,
    attemptedAt: T0 + at - 1,
    outcome: 'connect-error',
    settledAt: T0 + at,
    errorCode,
  };
}

/** Stages of `targets`, each ramping for `rampMs` then holding `holdMs`. */
export function stagesOf(targets: number[], rampMs: number, holdMs: number): StagePlan[] {
  let start = T0;
  return targets.map((target, index) => {
    const stage = {
      index,
      target,
      newConnections: target - (targets[index - 1] ?? 0),
      startAt: start,
      rampEndsAt: start + rampMs,
      holdEndsAt: start + rampMs + holdMs,
    };
    start = stage.holdEndsAt;
    return stage;
  });
}

/** A one-shard plan over `stages`. */
export function planOf(stages: StagePlan[]): ProbePlan {
  return {
    runId: 'run-1',
    targetId: 'target-1',
    startAt: T0,
    endsAt: stages[stages.length - 1]?.holdEndsAt ?? T0,
    stages,
    shards: [{ index: 0, newPerStage: stages.map((stage) => stage.newConnections), connectRate: 100, maxInFlight: 10 }],
    holdSeconds: 1,
    connectRate: 100,
  };
}

/** One shard's result holding `records`, having completed `stagesRun` stages. */
export function shardOf(records: ConnectionRecord[], stagesRun: number, extra: Partial<ShardResult> = {}): ShardResult {
  return { shard: 0, records, loopDelay: [{ stage: 0, p99Ms: 12, maxMs: 20 }], stagesRun, ...extra };
}

/** `count` connections opened `spacingMs` apart from `from` ms, in `stage`. */
export function openMany(stage: number, count: number, from: number, spacingMs: number): ConnectionRecord[] {
  return Array.from({ length: count }, (_, i) => opened(stage, from + i * spacingMs));
}

/** An upgrade whose session was rejected at `at` ms after T0 (a close code, an error message or a ready timeout). */
export function sessionRejected(
  stage: number,
  at: number,
  rejection: NonNullable<ConnectionRecord['session']>,
): ConnectionRecord {
  return {
    shard: 0,
    id: nextId++,
    stage,
    attemptedAt: T0 + at - 1,
    tcpConnectedAt: T0 + at - 0.8,
    outcome: 'session-rejected',
    settledAt: T0 + at,
    handshakeMs: 0.5,
    session: rejection,
  };
}

/** A connection whose session could not be set up before its upgrade (its URL provider failed) at `at` ms after T0. */
export function setupFailed(
  stage: number,
  at: number,
  failure: NonNullable<ConnectionRecord['setup']>,
): ConnectionRecord {
  return {
    shard: 0,
    id: nextId++,
    stage,
    attemptedAt: T0 + at - 1,
    setupMs: 1,
    outcome: 'session-setup',
    settledAt: T0 + at,
    setup: failure,
  };
}
