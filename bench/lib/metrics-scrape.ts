/** The gateway's Prometheus text, scraped and summed. */
import { BenchError } from './bench-run';

export type MetricSamples = { name: string; labels: Record<string, string>; value: number }[];

export async function scrapeMetrics(baseUrl: string): Promise<MetricSamples> {
  const res = await fetch(`${baseUrl}/_ringcache/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new BenchError(`GET /_ringcache/metrics answered ${res.status}`);
  const out: MetricSamples = [];
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/gm)) {
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `match`. */
export function metricSum(samples: MetricSamples, name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
