/**
 * Recorded runs for tests of the reports: real `ws-ceiling run --json` output
 * against the bundled simulator (and a closed port), one per limiting factor,
 * kept in test/support/recorded-runs/. They were recorded with:
 *
 *   concurrency-cap       --simulate cap=150 --stages 50,100,150,200 --hold 2 --rate 100 --target-id demo
 *   handshake-rate-limit  --simulate rate=20,burst=20,retry-after=1 --stages 20,60,100 --hold 2 --rate 100 --target-id demo
 *   idle-timeout          --simulate idle-timeout=1 --ping off --stages 10,20 --hold 2 --rate 100 --target-id idle
 *   max-lifetime          --simulate close-after=1,close-code=1001 --ping 0.5 --pong-timeout 0.5 --stages 10,20 --hold 2 --rate 100 --target-id lifetime
 *   probe-limited         (ulimit -n 120) --simulate accept --stages 30,300 --hold 1 --rate 300 --target-id probe
 *   config-error          --simulate reject=401 --stages 10,20 --hold 1 --header 'Authorization: …' --min-ceiling 15 --target-id auth
 *   unreachable           ws://127.0.0.1:9/ --stages 10 --hold 1 --target-id down
 *
 * (server-degradation needs a target that stops answering pings, which the
 * simulator cannot do yet.)
 */
import { readFileSync } from 'node:fs';
import type { Baseline, LimitingFactorKind, RunResult } from '../../functions/engine/types.js';

/** The limiting factors there is a recorded run of. */
export type RecordedKind = Exclude<LimitingFactorKind, 'server-degradation'>;

/** A fresh copy of the recorded run whose limiting factor is `kind`. */
export function recordedRun(kind: RecordedKind): RunResult {
  const file = new URL(`./recorded-runs/${kind}.json`, import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')) as RunResult;
}

/** `run` judged against a baseline of `value` over `runs` earlier runs, with the ratio it implies. */
export function withBaseline(run: RunResult, value: number, runs = 5, regressionTolerance = 0.1): RunResult {
  const baseline: Baseline = {
    value,
    runs,
    ratio: run.ceiling.value === null ? null : run.ceiling.value / value,
    regressionTolerance,
  };
  return { ...run, baseline };
}

/** A copy of `run` as another run: a new id and start time, the same settings unless given. */
export function rerun(run: RunResult, runId: string, startedAt: string, changes: Partial<RunResult> = {}): RunResult {
  return { ...run, runId, startedAt, finishedAt: startedAt, ...changes };
}
