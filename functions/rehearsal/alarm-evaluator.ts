/**
 * Which state a CloudWatch alarm of the template would take, and why, on
 * given datapoints at a given time: the alarm's metric (or metric math over
 * several), statistic, period, evaluation periods, datapoints to alarm,
 * threshold, comparison and missing-data treatment, read as CloudFormation
 * names them. Pure.
 *
 * How it reads CloudWatch's rules, simplified where a rehearsal's few
 * datapoints cannot tell the difference:
 * - the evaluation range is the last `EvaluationPeriods` periods ending at
 *   the evaluation time, each period one statistic over the datapoints in it;
 * - `DatapointsToAlarm` (default: every period) breaching periods make ALARM;
 * - a missing period is breaching for `breaching`, not breaching for
 *   `notBreaching`, and not counted for `missing` and `ignore`;
 * - with every period missing, `missing` gives INSUFFICIENT_DATA and
 *   `ignore` keeps the state the alarm had after its newest earlier datapoint
 *   (INSUFFICIENT_DATA when there is none).
 * Anomaly-detection alarms and metric math beyond arithmetic, FILL, SUM, MIN,
 * MAX and AVG are not evaluated: the state is INSUFFICIENT_DATA and the reason
 * says so, never a guess.
 */

/** A datapoint the alarm may read (published in the rehearsal, from the store's history, or derived). */
export interface AlarmDatapoint {
  namespace: string;
  name: string;
  dimensions: Readonly<Record<string, string>>;
  /** Epoch milliseconds. */
  timestamp: number;
  unit: string;
  /** Values with how many samples each stands for. */
  values: ReadonlyArray<{ value: number; count: number }>;
}

/** The state of an alarm. */
export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** An alarm's state and the reason, in words. */
export interface AlarmEvaluation {
  name: string;
  state: AlarmState;
  reason: string;
}

interface MetricSpec {
  Namespace?: string;
  MetricName?: string;
  Dimensions?: Array<{ Name: string; Value: string }>;
}

interface MetricQuery {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: { Metric: MetricSpec; Period: number; Stat: string; Unit?: string };
}

/** The CloudFormation properties of an alarm the evaluator reads. */
interface AlarmProperties extends MetricSpec {
  Statistic?: string;
  ExtendedStatistic?: string;
  Period?: number;
  Unit?: string;
  EvaluationPeriods?: number;
  DatapointsToAlarm?: number;
  Threshold?: number;
  ThresholdMetricId?: string;
  ComparisonOperator?: string;
  TreatMissingData?: string;
  Metrics?: MetricQuery[];
}

/** One value per period, newest first; null where no datapoint fell in the period. */
type Series = Array<number | null>;

const COMPARISONS: Record<string, { test: (value: number, threshold: number) => boolean; words: string }> = {
  GreaterThanOrEqualToThreshold: { test: (v, t) => v >= t, words: '>=' },
  GreaterThanThreshold: { test: (v, t) => v > t, words: '>' },
  LessThanThreshold: { test: (v, t) => v < t, words: '<' },
  LessThanOrEqualToThreshold: { test: (v, t) => v <= t, words: '<=' },
};

/** The state alarm `name` (its CloudFormation `properties`) would take at `at` (epoch ms) on `datapoints`. */
export function evaluateAlarm(
  name: string,
  properties: Readonly<Record<string, unknown>>,
  datapoints: readonly AlarmDatapoint[],
  at: number,
): AlarmEvaluation {
  const alarm = properties as AlarmProperties;
  const comparison = COMPARISONS[alarm.ComparisonOperator ?? ''];
  if (!comparison || alarm.ThresholdMetricId !== undefined || alarm.Threshold === undefined) {
    return notEvaluated(
      name,
      `its comparison ${alarm.ComparisonOperator ?? '(none)'} (anomaly detection) is not evaluated`,
    );
  }
  const periods = alarm.EvaluationPeriods ?? 1;
  const needed = alarm.DatapointsToAlarm ?? periods;
  const treatment = alarm.TreatMissingData ?? 'missing';
  let measured: { series: Series; label: string; periodSeconds: number };
  try {
    measured = measure(alarm, datapoints, at, periods);
  } catch (error) {
    return notEvaluated(name, error instanceof Error ? error.message : String(error));
  }
  const { series, label, periodSeconds } = measured;
  const threshold = alarm.Threshold;
  const breaching = series.filter((value) =>
    value === null ? treatment === 'breaching' : comparison.test(value, threshold),
  ).length;
  const present = series.filter((value): value is number => value !== null);
  const window = `${periods} period${periods === 1 ? '' : 's'} of ${formatPeriod(periodSeconds)}`;
  const values = present.length ? present.map((value) => round(value)).join(', ') : 'none';
  const missing = series.length - present.length;
  const missingWords = missing
    ? `; ${missing} period${missing === 1 ? '' : 's'} without data, treated as ${treatment}`
    : '';
  const figures = `${label} over the last ${window}: ${values}${missingWords}`;
  if (breaching >= needed) {
    return {
      name,
      state: 'ALARM',
      reason: `${figures}; ${breaching} of ${periods} breach ${comparison.words} ${threshold} (${needed} needed)`,
    };
  }
  if (present.length === 0 && (treatment === 'missing' || treatment === 'ignore')) {
    if (treatment === 'missing') return { name, state: 'INSUFFICIENT_DATA', reason: `${figures}` };
    const earlier = newestBefore(alarm, datapoints, at - periods * periodSeconds * 1000);
    if (earlier === undefined) {
      return {
        name,
        state: 'INSUFFICIENT_DATA',
        reason: `${figures}; missing data is ignored and no earlier datapoint exists, so it has no state yet`,
      };
    }
    const before = evaluateAlarm(name, properties, datapoints, earlier + 1);
    return {
      name,
      state: before.state,
      reason:
        `${figures}; missing data is ignored, so it keeps the state it took after its datapoint of ` +
        `${new Date(earlier).toISOString()}: ${before.reason}`,
    };
  }
  return {
    name,
    state: 'OK',
    reason: `${figures}; ${breaching} of ${periods} breach ${comparison.words} ${threshold} (${needed} needed)`,
  };
}

function notEvaluated(name: string, why: string): AlarmEvaluation {
  return { name, state: 'INSUFFICIENT_DATA', reason: `not evaluated by rehearse: ${why}` };
}

/** The series the alarm compares, its label and its period. */
function measure(
  alarm: AlarmProperties,
  datapoints: readonly AlarmDatapoint[],
  at: number,
  periods: number,
): { series: Series; label: string; periodSeconds: number } {
  if (!alarm.Metrics) {
    const statistic = alarm.ExtendedStatistic ?? alarm.Statistic ?? 'Average';
    const periodSeconds = alarm.Period ?? 60;
    const series = statisticSeries(alarm, statistic, alarm.Unit, periodSeconds, datapoints, at, periods);
    return { series, label: `${alarm.MetricName ?? '?'} ${statistic}`, periodSeconds };
  }
  const queries = alarm.Metrics;
  const returned =
    queries.find((query) => query.ReturnData !== false && query.Expression) ?? queries.find((q) => q.ReturnData);
  if (!returned) throw new Error('its metric math returns no series');
  const periodSeconds = queries.find((query) => query.MetricStat)?.MetricStat?.Period ?? 60;
  const byId = new Map<string, Series>();
  for (const query of queries) {
    if (!query.MetricStat) continue;
    const { Metric, Stat, Unit } = query.MetricStat;
    byId.set(query.Id, statisticSeries(Metric, Stat, Unit, query.MetricStat.Period, datapoints, at, periods));
  }
  const series = returned.Expression
    ? evaluateExpression(returned.Expression, byId, periods)
    : (byId.get(returned.Id) ?? []);
  return { series, label: returned.Expression ? `(${returned.Expression})` : returned.Id, periodSeconds };
}

/** One statistic per period, newest first, over the datapoints of `metric`. */
function statisticSeries(
  metric: MetricSpec,
  statistic: string,
  unit: string | undefined,
  periodSeconds: number,
  datapoints: readonly AlarmDatapoint[],
  at: number,
  periods: number,
): Series {
  const matching = datapoints.filter((point) => matches(metric, unit, point));
  return Array.from({ length: periods }, (_, index) => {
    const end = at - index * periodSeconds * 1000;
    const start = end - periodSeconds * 1000;
    const samples = matching
      .filter((point) => point.timestamp > start && point.timestamp <= end)
      .flatMap((point) => point.values);
    return samples.length ? statisticOf(statistic, samples) : null;
  });
}

/** True when `point` is of `metric` with exactly its dimensions (and unit, when the alarm names one). */
function matches(metric: MetricSpec, unit: string | undefined, point: AlarmDatapoint): boolean {
  if (point.namespace !== metric.Namespace || point.name !== metric.MetricName) return false;
  if (unit !== undefined && point.unit !== unit) return false;
  const wanted = metric.Dimensions ?? [];
  const have = Object.entries(point.dimensions);
  return have.length === wanted.length && wanted.every(({ Name, Value }) => point.dimensions[Name] === Value);
}

/** The newest timestamp before `before` of a datapoint the alarm reads, or undefined. */
function newestBefore(
  alarm: AlarmProperties,
  datapoints: readonly AlarmDatapoint[],
  before: number,
): number | undefined {
  const metrics: Array<{ metric: MetricSpec; unit?: string }> = alarm.Metrics
    ? alarm.Metrics.flatMap((query) =>
        query.MetricStat ? [{ metric: query.MetricStat.Metric, unit: query.MetricStat.Unit }] : [],
      )
    : [{ metric: alarm, unit: alarm.Unit }];
  const times = datapoints
    .filter((point) => point.timestamp <= before && metrics.some(({ metric, unit }) => matches(metric, unit, point)))
    .map((point) => point.timestamp);
  return times.length ? Math.max(...times) : undefined;
}

/** A CloudWatch statistic over weighted samples: Minimum, Maximum, Sum, Average, SampleCount or pNN. */
export function statisticOf(statistic: string, samples: ReadonlyArray<{ value: number; count: number }>): number {
  const count = samples.reduce((total, sample) => total + sample.count, 0);
  const sum = samples.reduce((total, sample) => total + sample.value * sample.count, 0);
  switch (statistic) {
    case 'Minimum':
      return Math.min(...samples.map((sample) => sample.value));
    case 'Maximum':
      return Math.max(...samples.map((sample) => sample.value));
    case 'Sum':
      return sum;
    case 'Average':
      return sum / count;
    case 'SampleCount':
      return count;
  }
  const percentile = /^p(\d+(?:\.\d+)?)$/.exec(statistic);
  if (!percentile) throw new Error(`its statistic ${statistic} is not evaluated`);
  const sorted = [...samples].sort((a, b) => a.value - b.value);
  const rank = (Number(percentile[1]) / 100) * count;
  let seen = 0;
  for (const sample of sorted) {
    seen += sample.count;
    if (seen >= rank) return sample.value;
  }
  return sorted[sorted.length - 1]?.value ?? Number.NaN;
}

/** Metric math over series: numbers, ids, + - * /, parentheses, FILL(x, n), and SUM, MIN, MAX, AVG of [a, b, …]. */
export function evaluateExpression(expression: string, byId: ReadonlyMap<string, Series>, length: number): Series {
  const tokens = expression.match(/\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|[-+*/(),[\]]/g) ?? [];
  let position = 0;
  const peek = (): string | undefined => tokens[position];
  const take = (expected?: string): string => {
    const token = tokens[position++];
    if (token === undefined || (expected !== undefined && token !== expected))
      throw new Error(`its metric math "${expression}" is not evaluated`);
    return token;
  };
  const constant = (value: number): Series => Array.from({ length }, () => value);
  const combine = (a: Series, b: Series, op: (x: number, y: number) => number): Series =>
    a.map((x, index) => {
      const y = b[index] ?? null;
      return x === null || y === null ? null : op(x, y);
    });
  const list = (): Series[] => {
    take('[');
    const items = [sum()];
    while (peek() === ',') {
      take(',');
      items.push(sum());
    }
    take(']');
    return items;
  };
  const reduce = (items: Series[], fold: (values: number[]) => number): Series =>
    Array.from({ length }, (_, index) => {
      const values = items.map((item) => item[index] ?? null).filter((value): value is number => value !== null);
      return values.length ? fold(values) : null;
    });
  const factor = (): Series => {
    const token = take();
    if (token === '(') {
      const inner = sum();
      take(')');
      return inner;
    }
    if (token === '-') return factor().map((value) => (value === null ? null : -value));
    if (/^\d/.test(token)) return constant(Number(token));
    if (peek() === '(') {
      take('(');
      let result: Series;
      if (token === 'FILL') {
        const series = sum();
        take(',');
        const value = Number(take());
        result = series.map((item) => item ?? value);
      } else {
        const folds: Record<string, (values: number[]) => number> = {
          SUM: (values) => values.reduce((a, b) => a + b, 0),
          MIN: (values) => Math.min(...values),
          MAX: (values) => Math.max(...values),
          AVG: (values) => values.reduce((a, b) => a + b, 0) / values.length,
        };
        const fold = folds[token];
        if (!fold) throw new Error(`its metric math function ${token} is not evaluated`);
        result = reduce(peek() === '[' ? list() : [sum()], fold);
      }
      take(')');
      return result;
    }
    const series = byId.get(token);
    if (!series) throw new Error(`its metric math names ${token}, which it does not define`);
    return series;
  };
  const product = (): Series => {
    let result = factor();
    while (peek() === '*' || peek() === '/') {
      const op = take();
      result = combine(result, factor(), op === '*' ? (x, y) => x * y : (x, y) => x / y);
    }
    return result;
  };
  const sum = (): Series => {
    let result = product();
    while (peek() === '+' || peek() === '-') {
      const op = take();
      result = combine(result, product(), op === '+' ? (x, y) => x + y : (x, y) => x - y);
    }
    return result;
  };
  const result = sum();
  if (position !== tokens.length) throw new Error(`its metric math "${expression}" is not evaluated`);
  return result;
}

function formatPeriod(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function round(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}
