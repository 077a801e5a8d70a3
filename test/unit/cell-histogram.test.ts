/**
 * CellHistogram (src/admin/cell-histogram.ts) exposes what a prom-client Histogram with the same
 * buckets exposes for the same observations: every _bucket (cumulative, le and +Inf), _sum and
 * _count line, per label value; HELP and TYPE as a histogram.
 */
import { Histogram, Registry } from 'prom-client';
import { CellHistogram } from '../../src/admin/cell-histogram';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** Sample lines of an exposition as "name{sorted labels}" -> value. */
function samples(text: string, rename: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    out.set(`${m[1].replace(rename, 'x')}{${labels}}`, Number(m[3]));
  }
  return out;
}

describe('CellHistogram', () => {
  it('exposes what prom-client\'s Histogram exposes for the same observations', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const reference = new Histogram({ name: 'ref_seconds', help: 'latency', labelNames: ['op'], buckets: BUCKETS, registers: [theirs] });
    const cells = new CellHistogram({ name: 'cell_seconds', help: 'latency', labelName: 'op', buckets: BUCKETS, registry: ours });
    const values = [0, 0.0005, 0.001, 0.002, 0.01, 0.05, 0.5, 1, 2, 100];
    for (const [i, v] of values.entries()) {
      const op = i % 3 === 0 ? 'GetObject' : 'HeadObject';
      reference.labels(op).observe(v);
      cells.labels(op).observe(v);
    }
    const expected = samples(await theirs.metrics(), 'ref_seconds');
    const got = samples(await ours.metrics(), 'cell_seconds');
    expect(got.size).toBe(2 * (BUCKETS.length + 3));
    expect([...got.entries()].sort()).toEqual([...expected.entries()].sort());
    const text = await ours.metrics();
    expect(text).toContain('# TYPE cell_seconds histogram');
    expect(text).toContain('# HELP cell_seconds latency');
    expect(got.get('x_bucket{le="+Inf",op="GetObject"}')).toBe(4);
  });

  it('leaves out series without observations, and reset empties it', async () => {
    const registry = new Registry();
    const cells = new CellHistogram({ name: 'h_seconds', help: 'h', labelName: 'op', buckets: BUCKETS, registry });
    cells.labels('GetObject');
    cells.labels('PutObject').observe(Number.NaN);
    expect(await registry.metrics()).not.toContain('h_seconds_count');
    cells.labels('GetObject').observe(0.2);
    expect(await registry.metrics()).toContain('h_seconds_count{op="GetObject"} 1');
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('h_seconds_count');
  });
});
