import { CloudWatchClient, InvalidParameterValueException, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudWatchMetricsSink, MAX_DATAPOINTS_PER_REQUEST } from '../../functions/adapters/cloudwatch-metrics-sink.js';
import { MetricsPublishError, type MetricDatapoint } from '../../functions/engine/metrics-sink.js';
import { runDatapoints } from '../../functions/engine/run-metrics.js';
import { cappedRun } from '../support/run-results.js';

const clients: CloudWatchClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

/** A CloudWatch client whose `send` is mocked (this instance only), and a sink over it that records its sleeps. */
function setup(options: { maxAttempts?: number } = {}) {
  const client = new CloudWatchClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  clients.push(client);
  const mock = mockClient(client);
  const sleeps: number[] = [];
  const sink = new CloudWatchMetricsSink({
    client,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...options,
  });
  return { mock, sink, sleeps };
}

const AT = new Date('2025-03-01T10:00:00.000Z');
const DIMENSIONS = [
  { Name: 'Target', Value: 'chat-prod' },
  { Name: 'Region', Value: 'eu-west-1' },
];

describe('CloudWatchMetricsSink.publish', () => {
  it(
    'puts every datapoint of a run in the WsCeiling namespace with exact names, dimensions, values, units and ' +
      'timestamps',
    async () => {
      const { mock, sink, sleeps } = setup();
      mock.on(PutMetricDataCommand).resolves({});

      await sink.publish(runDatapoints(cappedRun));

      const calls = mock.commandCalls(PutMetricDataCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.args[0].input).toEqual({
        Namespace: 'WsCeiling',
        MetricData: [
          { MetricName: 'ProbeSucceeded', Value: 1, Unit: 'Count', Timestamp: AT, Dimensions: DIMENSIONS },
          { MetricName: 'Ceiling', Value: 150, Unit: 'Count', Timestamp: AT, Dimensions: DIMENSIONS },
          { MetricName: 'CeilingToBaseline', Value: 0.75, Unit: 'None', Timestamp: AT, Dimensions: DIMENSIONS },
          { MetricName: 'DropOnset', Value: 151, Unit: 'Count', Timestamp: AT, Dimensions: DIMENSIONS },
          { MetricName: 'FailedConnections', Value: 50, Unit: 'Count', Timestamp: AT, Dimensions: DIMENSIONS },
          { MetricName: 'HandshakeP95', Value: 12.5, Unit: 'Milliseconds', Timestamp: AT, Dimensions: DIMENSIONS },
        ],
      });
      expect(sleeps).toEqual([]);
    },
  );

  it('retries a failed put with a doubling backoff, then succeeds', async () => {
    const { mock, sink, sleeps } = setup();
    mock
      .on(PutMetricDataCommand)
      .rejectsOnce(new Error('socket hang up'))
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client' }))
      .resolves({});

    await sink.publish(runDatapoints(cappedRun));

    const calls = mock.commandCalls(PutMetricDataCommand);
    expect(calls).toHaveLength(3);
    expect(calls[2]?.args[0].input).toEqual(calls[0]?.args[0].input);
    expect(sleeps).toEqual([200, 400]);
  });

  it('gives up after the last attempt with a MetricsPublishError that keeps the cause', async () => {
    const { mock, sink, sleeps } = setup({ maxAttempts: 4 });
    const cause = new Error('service unavailable');
    mock.on(PutMetricDataCommand).rejects(cause);

    const publish = sink.publish(runDatapoints(cappedRun));

    await expect(publish).rejects.toBeInstanceOf(MetricsPublishError);
    await expect(publish).rejects.toThrow(
      'cannot publish 6 datapoints to CloudWatch namespace WsCeiling after 4 attempts: Error: service unavailable',
    );
    await expect(publish).rejects.toHaveProperty('cause', cause);
    expect(mock.commandCalls(PutMetricDataCommand)).toHaveLength(4);
    expect(sleeps).toEqual([200, 400, 800]);
  });

  it('does not retry a client fault a retry cannot fix', async () => {
    const { mock, sink, sleeps } = setup();
    mock
      .on(PutMetricDataCommand)
      .rejects(new InvalidParameterValueException({ message: 'The value NaN is invalid', $metadata: {} }));

    await expect(sink.publish(runDatapoints(cappedRun))).rejects.toThrow('after 1 attempt: InvalidParameterValue');
    expect(mock.commandCalls(PutMetricDataCommand)).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('splits datapoints into requests of at most 1,000, in order', async () => {
    const { mock, sink } = setup();
    mock.on(PutMetricDataCommand).resolves({});
    const datapoints: MetricDatapoint[] = Array.from({ length: 2 * MAX_DATAPOINTS_PER_REQUEST + 1 }, (_, i) => ({
      name: 'FailedConnections',
      value: i,
      unit: 'Count',
      timestamp: AT,
      dimensions: { Target: `t-${i}`, Region: 'eu-west-1' },
    }));

    await sink.publish(datapoints);

    const batches = mock.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input.MetricData ?? []);
    expect(batches.map((batch) => batch.length)).toEqual([1000, 1000, 1]);
    expect(batches.flat().map((datum) => datum.Value)).toEqual(datapoints.map((point) => point.value));
  });

  it('sends nothing for no datapoints', async () => {
    const { mock, sink } = setup();
    mock.on(PutMetricDataCommand).resolves({});
    await sink.publish([]);
    expect(mock.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });
});
