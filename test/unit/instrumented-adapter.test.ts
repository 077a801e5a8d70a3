import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Metrics } from '../../src/admin/metrics';
import { instrumentAdapter } from '../../src/mounts/instrumented-adapter';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { isUfsError } from '../../ufs-adapters/errors';
import type { UfsAdapter } from '../../ufs-adapters/types';

async function value(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.filter((v) => Object.entries(labels).every(([k, w]) => String((v.labels as Record<string, unknown>)[k]) === w)).reduce((n, v) => n + v.value, 0);
}

describe('instrumentAdapter', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'rc-instr-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  test('counts calls by outcome, bytes both ways, and latency', async () => {
    const metrics = new Metrics();
    const adapter = instrumentAdapter(new LocalAdapter({ root }), metrics, { timeoutMs: 5000, maxConcurrency: 4 });
    await adapter.write({ key: 'k', body: Readable.from([Buffer.alloc(1000, 1)]), metadata: { userMetadata: {} } });
    const chunks: Buffer[] = [];
    for await (const c of await adapter.read('k', { start: 0, end: 99 })) chunks.push(c);
    await adapter.stat('missing').catch(() => undefined);
    expect(Buffer.concat(chunks)).toHaveLength(100);
    expect(await value(metrics, 'ringcache_ufs_bytes_total', { adapter: 'local', direction: 'out' })).toBe(1000);
    expect(await value(metrics, 'ringcache_ufs_bytes_total', { adapter: 'local', direction: 'in' })).toBe(100);
    expect(await value(metrics, 'ringcache_ufs_calls_total', { op: 'write', outcome: 'ok' })).toBe(1);
    expect(await value(metrics, 'ringcache_ufs_calls_total', { op: 'stat', outcome: 'NotFound' })).toBe(1);
    const histogram = (await metrics.registry.getSingleMetric('ringcache_ufs_call_seconds')?.get())?.values ?? [];
    const readCount = histogram.find((v) => (v as { metricName?: string }).metricName === 'ringcache_ufs_call_seconds_count' && v.labels.op === 'read');
    expect(readCount?.value).toBe(1);
  });

  test('a call that does not answer in time fails with Unavailable', async () => {
    const hanging = { kind: 'hang', capabilities: {}, stat: () => new Promise(() => undefined), close: async () => undefined } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(hanging, new Metrics(), { timeoutMs: 50, maxConcurrency: 4 });
    const err = await adapter.stat('x').catch((e) => e);
    expect(isUfsError(err, 'Unavailable')).toBe(true);
  });

  test('no more than maxConcurrency calls run at once', async () => {
    let running = 0;
    let peak = 0;
    const slow = {
      kind: 'slow',
      capabilities: {},
      stat: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        throw new Error('x');
      },
      close: async () => undefined,
    } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(slow, new Metrics(), { timeoutMs: 1000, maxConcurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, () => adapter.stat('k').catch(() => undefined)));
    expect(peak).toBe(3);
  });
});
