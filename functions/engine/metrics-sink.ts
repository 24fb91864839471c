/**
 * The metrics sink as the engine sees it: where a recorded run's figures go.
 * Implemented by the CloudWatch adapter in the deployed record step. Names
 * come from metric-names.ts so the publisher and the alarms cannot drift.
 */
import type { DIMENSION, METRIC } from './metric-names.js';
import { WsCeilingError } from './errors.js';

/** One of the metric names of metric-names.ts. */
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The CloudWatch units ws-ceiling publishes in. */
export type MetricUnit = 'Count' | 'None' | 'Milliseconds';

/** Dimension values of a datapoint, keyed by the dimension names of metric-names.ts (`Target`, `Region`). */
export type MetricDimensions = Record<(typeof DIMENSION)[keyof typeof DIMENSION], string>;

/** One value of one metric at one instant. */
export interface MetricDatapoint {
  name: MetricName;
  value: number;
  unit: MetricUnit;
  timestamp: Date;
  dimensions: MetricDimensions;
}

/** Where datapoints are published. */
export interface MetricsSink {
  /** Publishes every datapoint, or rejects (with {@link MetricsPublishError} from the adapters) when it could not. */
  publish(datapoints: readonly MetricDatapoint[]): Promise<void>;
}

/** Datapoints could not be published. Exit code 3; the record step logs it and keeps going. */
export class MetricsPublishError extends WsCeilingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 3, options);
  }
}
