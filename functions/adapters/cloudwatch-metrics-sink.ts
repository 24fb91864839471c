/**
 * The metrics sink on CloudWatch: PutMetricData in the `WsCeiling` namespace,
 * in batches within the API's limit, each batch retried with exponential
 * backoff a bounded number of times. The client is passed in (one per cold
 * start in Lambda); the sleep is injectable so tests do not wait.
 */
import { PutMetricDataCommand, type CloudWatchClient, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { METRIC_NAMESPACE } from '../engine/metric-names.js';
import { MetricsPublishError, type MetricDatapoint, type MetricsSink } from '../engine/metrics-sink.js';

/** Most metric datums one PutMetricData request may carry (the API's limit is 1,000 per request). */
export const MAX_DATAPOINTS_PER_REQUEST = 1000;
/** Tries per batch, the first included, unless told otherwise. */
const DEFAULT_MAX_ATTEMPTS = 3;
/** Wait before the second try, doubled before each later one, unless told otherwise. */
const DEFAULT_BASE_DELAY_MS = 200;

/** How a {@link CloudWatchMetricsSink} reaches CloudWatch and retries. */
export interface CloudWatchMetricsSinkOptions {
  client: CloudWatchClient;
  /** Tries per batch, the first included (default 3). */
  maxAttempts?: number;
  /** Wait before the second try in ms, doubled before each later one (default 200). */
  baseDelayMs?: number;
  /** Waits `ms` milliseconds (default: a timer). */
  sleep?: (ms: number) => Promise<void>;
}

/** {@link MetricsSink} on CloudWatch PutMetricData. */
export class CloudWatchMetricsSink implements MetricsSink {
  readonly #client: CloudWatchClient;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: CloudWatchMetricsSinkOptions) {
    this.#client = options.client;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.#baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Publishes the datapoints in batches of at most {@link MAX_DATAPOINTS_PER_REQUEST},
   * one after the other. Rejects with a {@link MetricsPublishError} when a batch
   * still fails after its last try, or at once on an error a retry cannot fix
   * (a client fault such as an invalid parameter); earlier batches stay published.
   */
  async publish(datapoints: readonly MetricDatapoint[]): Promise<void> {
    for (let start = 0; start < datapoints.length; start += MAX_DATAPOINTS_PER_REQUEST) {
      await this.#putWithRetry(datapoints.slice(start, start + MAX_DATAPOINTS_PER_REQUEST).map(toMetricDatum));
    }
  }

  /** Sends one batch, retrying retryable failures with exponential backoff. */
  async #putWithRetry(metricData: MetricDatum[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#client.send(new PutMetricDataCommand({ Namespace: METRIC_NAMESPACE, MetricData: metricData }));
        return;
      } catch (error) {
        if (attempt >= this.#maxAttempts || !isRetryable(error)) {
          const tries = `${attempt} attempt${attempt === 1 ? '' : 's'}`;
          throw new MetricsPublishError(
            `cannot publish ${metricData.length} datapoints to CloudWatch namespace ${METRIC_NAMESPACE} ` +
              `after ${tries}: ${messageOf(error)}`,
            { cause: error },
          );
        }
        await this.#sleep(this.#baseDelayMs * 2 ** (attempt - 1));
      }
    }
  }
}

/** A datapoint as a PutMetricData metric datum. */
function toMetricDatum(datapoint: MetricDatapoint): MetricDatum {
  return {
    MetricName: datapoint.name,
    Value: datapoint.value,
    Unit: datapoint.unit,
    Timestamp: datapoint.timestamp,
    Dimensions: Object.entries(datapoint.dimensions).map(([Name, Value]) => ({ Name, Value })),
  };
}

/** False for a client fault other than throttling (a retry would fail the same way); true otherwise. */
function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const { $fault, name } = error as { $fault?: unknown; name?: unknown };
  return $fault !== 'client' || (typeof name === 'string' && /Throttl/i.test(name));
}

/** The name and message of an error, or the value as text. */
function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
