/**
 * The self-check while a run goes on: one watch per probe process samples the
 * host's resources (descriptors against the soft limit, free memory, V8 heap)
 * once a second and at every stage end, and judges each sample. A sample
 * under headroom stops the run at once through the shared RampControl with
 * failure class `probe-limited`, so the run is inconclusive, never a ceiling.
 * The reading (/proc) and the judging are the caller's collaborators
 * (functions/probe-host/host-budget.ts, functions/engine/self-check.ts).
 */
import type { RampControl } from '../engine/ramp-control.js';
import { describeRunningShortfall, type RunningHostCheck, type SelfCheckProblem } from '../engine/self-check.js';

/** Default time between two samples. */
const RESOURCE_SAMPLE_INTERVAL_MS = 1000;

/**
 * What a watch needs: how to read the host now (`read` must not throw: a
 * figure it cannot read is null) and how to judge a reading (the problems of
 * one reading, empty when it has headroom), and the run's control.
 */
export interface ResourceWatchOptions extends RunningHostCheck {
  /** The run's control: stopped with `probe-limited` at the first short sample. */
  control: RampControl;
  /** Time between samples (default 1 s). */
  intervalMs?: number;
}

/** A running watch; `stop()` ends it and says what ran short, if anything did. */
export interface ResourceWatch {
  /** Takes a sample for the end of `stage`, once however many shards ask; resolves when it is judged. */
  sampleAtStageEnd(stage: number): Promise<void>;
  /** Ends the sampling (waiting for a sample in progress) and returns the problems of the first short sample. */
  stop(): Promise<SelfCheckProblem[]>;
}

/** Starts sampling now and every `intervalMs` until `stop()`; samples never overlap. */
export function startResourceWatch(options: ResourceWatchOptions): ResourceWatch {
  const { read, judge, control } = options;
  let shortfall: SelfCheckProblem[] = [];
  let inProgress: Promise<void> | undefined;
  let stopped = false;
  const stageSamples = new Map<number, Promise<void>>();
  const sample = (): Promise<void> => {
    inProgress ??= (async () => {
      try {
        const problems = judge(await read());
        if (problems.length > 0 && shortfall.length === 0 && !control.signal.aborted) {
          shortfall = problems;
          control.abort({ failureClass: 'probe-limited', message: describeRunningShortfall(problems) });
        }
      } catch {
        // A reading that failed says nothing about the host: the next one decides.
      } finally {
        inProgress = undefined;
      }
    })();
    return inProgress;
  };
  const timer = setInterval(() => void sample(), options.intervalMs ?? RESOURCE_SAMPLE_INTERVAL_MS);
  timer.unref();
  void sample();
  return {
    sampleAtStageEnd(stage) {
      if (stopped) return Promise.resolve();
      let taken = stageSamples.get(stage);
      if (!taken) {
        // A sample already running may have read the host before the stage ended: take a fresh one after it.
        taken = (inProgress ?? Promise.resolve()).then(sample);
        stageSamples.set(stage, taken);
      }
      return taken;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inProgress;
      return shortfall;
    },
  };
}

/**
 * Runs `work` under one resource watch over `control` when `host` is given
 * (without one when it is not), and ends the watch however `work` ends.
 */
export async function underResourceWatch<T>(
  host: RunningHostCheck | undefined,
  control: RampControl,
  work: (watch: ResourceWatch | undefined) => Promise<T>,
): Promise<T> {
  const watch = host ? startResourceWatch({ ...host, control }) : undefined;
  try {
    return await work(watch);
  } finally {
    await watch?.stop();
  }
}
