import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loopTrace, mixedObjectSize, mixedSizeTrace, oneHitWonderTrace, shiftingZipfTrace, zipfScanTrace, zipfTrace } from '../../bench/traces/generators';
import { toPages } from '../../bench/traces/pages';
import { Prng, ZipfSampler } from '../../bench/traces/prng';
import { keySizeLineToRecord, parseRange, readTraceFile, TraceBuilder, TraceFormatError, traceLines } from '../../bench/traces/trace';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('trace generators', () => {
  test('are deterministic: same options and seed, same trace; another seed, another trace', () => {
    const o = { objects: 500, skew: 0.9, requests: 5000, objectSize: 64 * KiB };
    expect(zipfTrace({ ...o, seed: 3 }).requests).toEqual(zipfTrace({ ...o, seed: 3 }).requests);
    expect(zipfTrace({ ...o, seed: 3 }).requests).not.toEqual(zipfTrace({ ...o, seed: 4 }).requests);
    const m = { ...o, objectSize: mixedObjectSize, rangeShare: 0.3, rangeBytes: 256 * KiB, seed: 5 };
    const a = mixedSizeTrace(m);
    const b = mixedSizeTrace(m);
    expect(a.objectSize).toEqual(b.objectSize);
    expect(a.rangeStart).toEqual(b.rangeStart);
  });

  test('Zipf: the sampled head mass matches the distribution', () => {
    const zipf = new ZipfSampler(4000, 0.9);
    const prng = new Prng(1);
    let head = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) if (zipf.sample(prng) < 100) head++;
    expect(Math.abs(head / n - zipf.headMass(100))).toBeLessThan(0.01);
    // Higher skew, more mass in the head.
    expect(new ZipfSampler(4000, 1.2).headMass(100)).toBeGreaterThan(zipf.headMass(100));
    expect(new ZipfSampler(4000, 0.6).headMass(100)).toBeLessThan(zipf.headMass(100));
  });

  test('scan: after every `every` Zipf requests, `scanLength` cold objects read once each, in order', () => {
    const t = zipfScanTrace({ objects: 100, skew: 0.9, requests: 3000, objectSize: 64 * KiB, seed: 1, every: 1000, scanLength: 50, scanObjects: 'fresh' });
    expect(t.requests.length).toBe(3000 + 3 * 50);
    const firstScan = Array.from(t.requests.subarray(1000, 1050));
    expect(firstScan).toEqual(Array.from({ length: 50 }, (_, i) => 100 + i));
    const secondScan = Array.from(t.requests.subarray(2050, 2100));
    expect(secondScan).toEqual(Array.from({ length: 50 }, (_, i) => 150 + i)); // fresh objects
    for (const id of t.requests.subarray(0, 1000)) expect(id).toBeLessThan(100);
    const same = zipfScanTrace({ objects: 100, skew: 0.9, requests: 3000, objectSize: 64 * KiB, seed: 1, every: 1000, scanLength: 50, scanObjects: 'same' });
    expect(Array.from(same.requests.subarray(2050, 2100))).toEqual(firstScan);
    expect(same.objectSize.length).toBe(150);
  });

  test('loop: the same order every pass', () => {
    const t = loopTrace({ objects: 10, objectSize: KiB, requests: 35, seed: 2 });
    expect(Array.from(t.requests.subarray(10, 20))).toEqual(Array.from(t.requests.subarray(0, 10)));
    expect(new Set(t.requests.subarray(0, 10)).size).toBe(10);
  });

  test('one-hit wonders: the requested share reads objects that never come back', () => {
    const t = oneHitWonderTrace({ objects: 1000, skew: 0.9, requests: 20_000, objectSize: KiB, seed: 3, oneHitShare: 0.5 });
    const counts = new Map<number, number>();
    for (const id of t.requests) counts.set(id, (counts.get(id) ?? 0) + 1);
    const singles = [...counts.entries()].filter(([id]) => id >= 1000);
    expect(singles.every(([, c]) => c === 1)).toBe(true);
    expect(Math.abs(singles.length / 20_000 - 0.5)).toBeLessThan(0.02);
  });

  test('shifting Zipf: the most requested object changes between phases', () => {
    const t = shiftingZipfTrace({ objects: 1000, skew: 1.2, requests: 20_000, objectSize: KiB, seed: 4, phaseLength: 10_000 });
    const top = (from: number, to: number): number => {
      const counts = new Map<number, number>();
      for (const id of t.requests.subarray(from, to)) counts.set(id, (counts.get(id) ?? 0) + 1);
      return [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    };
    expect(top(0, 10_000)).not.toBe(top(10_000, 20_000));
  });

  test('mixed sizes: sizes within 4 KiB-32 MiB, ranges inside their objects', () => {
    const t = mixedSizeTrace({ objects: 300, skew: 0.9, requests: 3000, objectSize: mixedObjectSize, seed: 6, rangeShare: 0.5, rangeBytes: 256 * KiB });
    for (const size of t.objectSize) {
      expect(size).toBeGreaterThanOrEqual(4 * KiB);
      expect(size).toBeLessThan(32 * MiB);
    }
    let ranged = 0;
    for (let i = 0; i < t.requests.length; i++) {
      const start = t.rangeStart![i];
      if (start < 0) continue;
      ranged++;
      expect(t.rangeEnd![i] - start).toBe(256 * KiB);
      expect(t.rangeEnd![i]).toBeLessThanOrEqual(t.objectSize[t.requests[i]]);
    }
    expect(ranged).toBeGreaterThan(0);
  });
});

describe('pages', () => {
  test('a request becomes the pages its range covers; the last page of an object is shorter', () => {
    const b = new TraceBuilder();
    b.add({ key: 'a', size: 2.5 * MiB }); // pages 0, 1, 2 (0.5 MiB)
    b.add({ key: 'b', size: 64 * KiB }); // one page of 64 KiB
    b.add({ key: 'a', size: 2.5 * MiB, range: `bytes=${MiB - 1}-${MiB}` }); // pages 0 and 1
    b.add({ key: 'a', size: 2.5 * MiB, range: 'bytes=-100' }); // page 2
    const pages = toPages(b.build('t', ''), MiB);
    expect(Array.from(pages.pageSize)).toEqual([MiB, MiB, 0.5 * MiB, 64 * KiB]);
    expect(Array.from(pages.pages)).toEqual([0, 1, 2, 3, 0, 1, 2]);
    expect(Array.from(pages.requestStart)).toEqual([0, 3, 4, 6, 7]);
  });

  test('whole-object granularity: one unit per object, ranges read the whole object', () => {
    const b = new TraceBuilder();
    b.add({ key: 'a', size: 2.5 * MiB });
    b.add({ key: 'a', size: 2.5 * MiB, range: 'bytes=0-9' });
    const pages = toPages(b.build('t', ''), Number.POSITIVE_INFINITY);
    expect(Array.from(pages.pageSize)).toEqual([2.5 * MiB]);
    expect(Array.from(pages.pages)).toEqual([0, 0]);
  });
});

describe('trace format', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-trace-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('parseRange: the HTTP forms, against the object size', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual([0, 100]);
    expect(parseRange('bytes=900-', 1000)).toEqual([900, 1000]);
    expect(parseRange('bytes=-100', 1000)).toEqual([900, 1000]);
    expect(parseRange('bytes=-5000', 1000)).toEqual([0, 1000]);
    expect(parseRange('bytes=990-2000', 1000)).toEqual([990, 1000]);
    expect(parseRange('bytes=1000-', 1000)).toBeUndefined();
    expect(() => parseRange('bytes=5-1', 1000)).toThrow(RangeError);
    expect(() => parseRange('bytes=0-1,5-6', 1000)).toThrow(RangeError);
  });

  test('a generated trace written as JSONL and read back is the same trace', async () => {
    const t = mixedSizeTrace({ objects: 50, skew: 0.9, requests: 500, objectSize: mixedObjectSize, seed: 9, rangeShare: 0.5, rangeBytes: 64 * KiB });
    const file = path.join(dir, 'mixed.jsonl');
    writeFileSync(file, `# generated\n${[...traceLines(t)].join('\n')}\n\n`);
    const back = await readTraceFile(file);
    expect(back.requests.length).toBe(t.requests.length);
    // Ids are renumbered by first appearance: compare through the names.
    for (let i = 0; i < t.requests.length; i++) {
      expect(back.objectName!(back.requests[i]).key).toBe(`obj-${t.requests[i].toString().padStart(8, '0')}`);
      expect(back.objectSize[back.requests[i]]).toBe(t.objectSize[t.requests[i]]);
      expect(back.rangeStart![i]).toBe(t.rangeStart![i]);
      expect(back.rangeEnd![i]).toBe(t.rangeEnd![i]);
    }
    expect(Array.from(back.timestamps!.subarray(0, 3))).toEqual([0, 1, 2]);
  });

  test('bad lines are refused with their line number', async () => {
    const cases: [string, RegExp][] = [
      ['{"key":"a"}', /line 2: "size"/],
      ['{"key":"","size":1}', /line 2: "key"/],
      ['{"key":"a","size":100,"range":"bytes=9-2"}', /line 2: range end before start/],
      ['not json', /line 2: not valid JSON/],
      ['[1,2]', /line 2: not a JSON object/],
    ];
    for (const [line, message] of cases) {
      const file = path.join(dir, 'bad.jsonl');
      writeFileSync(file, `{"key":"ok","size":1}\n${line}\n`);
      await expect(readTraceFile(file)).rejects.toThrow(message);
      await expect(readTraceFile(file)).rejects.toBeInstanceOf(TraceFormatError);
    }
  });

  test('an unsatisfiable range reads nothing and is left out; buckets keep same-named keys apart', () => {
    const b = new TraceBuilder();
    b.add({ bucket: 'x', key: 'k', size: 10 });
    b.add({ bucket: 'y', key: 'k', size: 20 });
    b.add({ bucket: 'x', key: 'k', size: 10, range: 'bytes=10-' });
    const t = b.build('t', '');
    expect(Array.from(t.requests)).toEqual([0, 1]);
    expect(Array.from(t.objectSize)).toEqual([10, 20]);
  });

  test('key-size lines: the last field is the size, the rest the key', () => {
    expect(keySizeLineToRecord('dir/a b.parquet  1234', 1, 'logs', 7)).toEqual({ t: 7, bucket: 'logs', key: 'dir/a b.parquet', size: 1234 });
    expect(keySizeLineToRecord('   ', 2, 'logs', 0)).toBeUndefined();
    expect(keySizeLineToRecord('# comment', 3, 'logs', 0)).toBeUndefined();
    expect(() => keySizeLineToRecord('no-size', 4, 'logs', 0)).toThrow(/line 4/);
  });
});
