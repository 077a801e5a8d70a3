/**
 * A Prometheus histogram with one label, observed on every request without prom-client's
 * per-call label work.
 *
 * prom-client's `histogram.labels(v).observe(x)` re-validates and re-hashes the label set on every
 * call (its bound child only closes over the labels), a measurable share of a warm GET. Here a
 * series is bound once per label value and `observe` is a bucket search and three additions; the
 * registry reads the series when it is scraped (`get`), in prom-client's own histogram shape, so
 * the exposition is the one a prom-client Histogram gives: cumulative `_bucket` lines with `le`
 * (`+Inf` last), then `_sum` and `_count`.
 */
import type { Metric, Registry } from 'prom-client';

interface HistogramSeries {
  observe(value: number): void;
}

class Series implements HistogramSeries {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last one: above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export class CellHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();
  private readonly bounds: readonly number[];

  readonly name: string;
  readonly help: string;
  private readonly labelName: string;

  /** As prom-client's Histogram options, with one label. */
  constructor(options: { name: string; help: string; labelName: string; buckets: readonly number[]; registry: Registry }) {
    this.name = options.name;
    this.help = options.help;
    this.labelName = options.labelName;
    this.bounds = [...options.buckets].sort((a, b) => a - b);
    options.registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label value, created on first use (empty series are not exposed). */
  labels(value: string): HistogramSeries {
    let series = this.series.get(value);
    if (series === undefined) {
      series = new Series(this.bounds);
      this.series.set(value, series);
    }
    return series;
  }

  /** What the registry exposes. @public prom-client calls it on every scrape. */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    for (const [labelValue, series] of this.series) {
      if (series.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += series.counts[i];
        values.push({ value: cumulative, labels: { le: this.bounds[i], [this.labelName]: labelValue }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: series.count, labels: { le: '+Inf', [this.labelName]: labelValue }, metricName: `${this.name}_bucket` });
      values.push({ value: series.sum, labels: { [this.labelName]: labelValue }, metricName: `${this.name}_sum` });
      values.push({ value: series.count, labels: { [this.labelName]: labelValue }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** @public prom-client's registry calls it (resetMetrics). */
  reset(): void {
    this.series.clear();
  }
}
