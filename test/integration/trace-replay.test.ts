/**
 * bench:replay's driver on a small trace: the gateway (the real app in a child process, built in
 * dist/) is replayed in trace order, its store reads counted per request, and its hit ratio is
 * what the offline simulation of the same arrangement gives on the same trace and capacity, up
 * to the memory its metadata and bookkeeping take from the pages.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { replayThroughGateway } from '../../bench/trace-replay';
import { CONTENDERS, runCase } from '../../bench/sim/contenders';
import { zipfScanTrace } from '../../bench/traces/generators';

const KiB = 1024;
const PAGE = 64 * KiB;

test('a replayed scan trace: object hits, store reads and the gateway counters agree, and the hit ratio is near the offline S3-FIFO tiers', async () => {
  const trace = zipfScanTrace({ objects: 60, objectSize: PAGE, skew: 0.9, requests: 600, every: 100, scanLength: 30, scanObjects: 'fresh', seed: 3 });
  const tc = { trace, memoryBytes: 6 * PAGE, diskBytes: 18 * PAGE };
  const work = mkdtempSync(path.join(os.tmpdir(), 'ringcache-replay-test-'));
  try {
    const g = await replayThroughGateway(tc, PAGE, work);
    expect(g.requests).toBe(trace.requests.length);
    expect(g.pageBytes).toBe(trace.requests.length * PAGE);
    expect(g.ufsReadsMetric).toBe(g.storeReads); // the gateway's own counter sees every store read
    expect(g.storeBytes).toBe(g.storeReads * PAGE);
    expect(g.objectHits).toBe(g.requests - g.storeReads); // one page per object: a request is a hit or one read
    expect(g.stats.skippedDiskPuts).toBe(0);
    const offline = runCase(tc, PAGE, CONTENDERS.filter((c) => c.name === 'LRU' || c.name.startsWith('tiers: one S3-FIFO over both, memory')));
    const unified = offline.rows.find((r) => r.name.startsWith('tiers: one S3-FIFO'))!.byteHitRatio;
    const lru = offline.rows.find((r) => r.name === 'LRU')!.byteHitRatio;
    const byteHit = 1 - g.storeBytes / g.pageBytes;
    expect(Math.abs(byteHit - unified)).toBeLessThan(0.05);
    expect(byteHit).toBeGreaterThan(lru);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}, 120_000);
