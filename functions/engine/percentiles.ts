/**
 * Small statistics over samples: nearest-rank percentiles and medians, used
 * for handshake latency, idle ages and event-loop delay.
 */
import type { LatencyPercentiles } from './types.js';
import { round } from './units.js';

/** The nearest-rank percentile `p` (0–100) of `samples`, or null when there are none. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

/** p50, p95 and p99 of `samples`, rounded to 0.1 ms. */
export function latencyPercentiles(samples: readonly number[]): LatencyPercentiles {
  const tenth = (value: number | null) => (value === null ? null : round(value, 1));
  return {
    p50: tenth(percentile(samples, 50)),
    p95: tenth(percentile(samples, 95)),
    p99: tenth(percentile(samples, 99)),
  };
}
