/**
 * Hand-built RunResult fixtures for tests of whatever reads stored runs
 * (store, history, reports): one run that hit a concurrency cap with full
 * evidence and one that held every stage.
 */
import type { RunResult } from '../../functions/engine/types.js';

/** A run that found a concurrency cap, with full evidence. */
const FAILURES: RunResult['failures'] = {
  total: 50,
  byClass: { 'handshake-rejected': 48, 'abnormal-closure': 2 },
  byStatus: { '503': 48 },
  byCloseCode: { '1006': 2 },
  byErrorCode: {},
};

export const cappedRun: RunResult = {
  runId: 'run-capped',
  targetId: 'chat-prod',
  url: 'wss://chat.example.com/socket?token=REDACTED',
  region: 'eu-west-1',
  startedAt: '2025-03-01T10:00:00.000Z',
  finishedAt: '2025-03-01T10:02:30.500Z',
  probeVersion: '0.1.0',
  configHash: 'sha256:5f1c0a',
  verdict: 'regressed',
  verdictReason: 'The ceiling of 150 is 25% under the baseline of 200.',
  ceiling: { value: 150, reached: true },
  dropOnset: 151,
  limitingFactor: {
    kind: 'concurrency-cap',
    summary: 'The server refuses new connections above 150 open ones (HTTP 503).',
    evidence: {
      failures: FAILURES,
      firstFailure: {
        at: '2025-03-01T10:01:40.125Z',
        openCount: 150,
        failureClass: 'handshake-rejected',
        stage: 3,
        status: 503,
      },
      retryAfter: ['5', '10'],
      openedAfterFirstRefusal: 0,
      handshakeP95Ms: { first: 12.5, failing: null },
      message: '',
    },
  },
  stages: [
    {
      index: 0,
      target: 50,
      opened: 50,
      openAtEnd: 50,
      failedByClass: {},
      failed: 0,
      handshakeMs: { p50: 4.25, p95: 12.5, p99: 20 },
      held: true,
    },
    {
      index: 3,
      target: 200,
      opened: 0,
      openAtEnd: 148,
      failedByClass: { 'handshake-rejected': 48, 'abnormal-closure': 2 },
      failed: 50,
      handshakeMs: { p50: null, p95: null, p99: null },
      held: false,
    },
  ],
  failures: FAILURES,
  handshakeMs: { p50: 4.25, p95: 12.5, p99: 31.75 },
  probe: { eventLoopDelayP99Ms: 3.1, eventLoopDelayMaxMs: 9.8 },
  settings: {
    stages: [50, 100, 150, 200],
    holdSeconds: 30,
    connectRate: 100,
    maxInFlight: 50,
    handshakeTimeoutSeconds: 10,
    heartbeat: { kind: 'ping', intervalSeconds: 20, pongTimeoutSeconds: 10 },
    headerNames: ['Authorization'],
    subprotocols: ['chat.v1'],
    tolerance: { kind: 'count', value: 0 },
    maxConnections: 5000,
    shardSize: 900,
    shards: 1,
    minCeiling: 100,
  },
  baseline: { value: 200, runs: 7, ratio: 0.75, regressionTolerance: 0.1 },
  timeline: {
    open: [
      [0, 0],
      [500, 50],
      [30_500, 100],
      [61_000, 150],
      [100_125, 150],
      [100_200, 148],
    ],
    stages: [
      { index: 0, target: 50, startMs: 0, rampEndsMs: 500, holdEndsMs: 30_500 },
      { index: 3, target: 200, startMs: 91_500, rampEndsMs: 92_000, holdEndsMs: 122_000 },
    ],
    failures: [{ atMs: 100_125, failureClass: 'handshake-rejected', open: 150, status: 503 }],
    failuresOmitted: 49,
  },
};

/** A run that held every stage: no ceiling value, no drop onset, no limiting factor. */
export const heldRun: RunResult = {
  ...cappedRun,
  runId: 'run-held',
  startedAt: '2025-03-02T10:00:00.000Z',
  finishedAt: '2025-03-02T10:02:00.000Z',
  verdict: 'ok',
  verdictReason: 'Every stage held.',
  ceiling: { value: null, reached: false },
  dropOnset: null,
  limitingFactor: null,
  stages: [],
  failures: { total: 0, byClass: {}, byStatus: {}, byCloseCode: {}, byErrorCode: {} },
  handshakeMs: { p50: null, p95: null, p99: null },
  probe: { eventLoopDelayP99Ms: null, eventLoopDelayMaxMs: null },
  settings: { ...cappedRun.settings, heartbeat: { kind: 'off' }, headerNames: [], subprotocols: [] },
  baseline: null,
  timeline: {
    open: [
      [0, 0],
      [500, 50],
    ],
    stages: [],
    failures: [],
    failuresOmitted: 0,
  },
};
