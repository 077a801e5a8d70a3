import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Metrics } from '../../src/admin/metrics';
import { instrumentAdapter } from '../../src/mounts/instrumented-adapter';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { isUfsError } from '../../ufs-adapters/errors';
import type { UfsAdapter, UploadPartRequest, WriteRequest } from '../../ufs-adapters/types';

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

  test('a call that does not answer in time fails with Unavailable, and its signal aborts the store call', async () => {
    let seen: AbortSignal | undefined;
    const hanging = {
      kind: 'hang',
      capabilities: {},
      stat: (_key: string, signal?: AbortSignal) => {
        seen = signal;
        return new Promise(() => undefined);
      },
      close: async () => undefined,
    } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(hanging, new Metrics(), { timeoutMs: 50, maxConcurrency: 4 });
    const err = await adapter.stat('x').catch((e) => e);
    expect(isUfsError(err, 'Unavailable')).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect(isUfsError(seen?.reason, 'Unavailable')).toBe(true);
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

/** A store whose calls each wait for the test to settle them, recording what they were given. */
function controlledStore() {
  const calls: { key: string; signal?: AbortSignal; settle: (value?: unknown) => void; fail: (err: unknown) => void }[] = [];
  const store = {
    kind: 'controlled',
    capabilities: {},
    stat: (key: string, signal?: AbortSignal) =>
      new Promise((resolve, reject) => calls.push({ key, signal, settle: () => resolve({ key, size: 1, etag: '"e"', lastModified: new Date(0), userMetadata: {} }), fail: reject })),
    close: async () => undefined,
  } as unknown as UfsAdapter;
  return { store, calls };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('the store-call bound holds (issue #11)', () => {
  test('a call past its deadline answers Unavailable at once but keeps its slot until the store call settles', async () => {
    const { store, calls } = controlledStore();
    const adapter = instrumentAdapter(store, new Metrics(), { timeoutMs: 50, maxConcurrency: 1 });
    const first = adapter.stat('first').catch((e) => e);
    expect(isUfsError(await first, 'Unavailable')).toBe(true);
    expect(calls[0].signal?.aborted).toBe(true);
    // The store has not let go of the first call: the second waits for the slot, it does not run.
    const second = adapter.stat('second');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls.map((c) => c.key)).toEqual(['first']);
    calls[0].fail(new Error('aborted at last'));
    await until(() => calls.length === 2, 'the second call to reach the store');
    calls[1].settle();
    expect((await second).key).toBe('second');
  });

  test('a caller that leaves while queued for a slot is answered Aborted and never reaches the store', async () => {
    const { store, calls } = controlledStore();
    const metrics = new Metrics();
    const adapter = instrumentAdapter(store, metrics, { timeoutMs: 60_000, maxConcurrency: 1 });
    const holder = adapter.stat('holder');
    await until(() => calls.length === 1, 'the first call');
    const client = new AbortController();
    const queued = adapter.stat('queued', client.signal).catch((e) => e);
    const third = adapter.stat('third');
    client.abort(new Error('client went away'));
    expect(isUfsError(await queued, 'Aborted')).toBe(true);
    calls[0].settle();
    await holder;
    await until(() => calls.length === 2, 'the third call');
    expect(calls.map((c) => c.key)).toEqual(['holder', 'third']);
    calls[1].settle();
    await third;
    expect(await value(metrics, 'ringcache_ufs_calls_total', { op: 'stat', outcome: 'Aborted' })).toBe(1);
  });

  test("the caller's signal reaches the store call, and aborting it answers at once", async () => {
    const { store, calls } = controlledStore();
    const adapter = instrumentAdapter(store, new Metrics(), { timeoutMs: 60_000, maxConcurrency: 2 });
    const client = new AbortController();
    const pending = adapter.stat('k', client.signal).catch((e) => e);
    await until(() => calls.length === 1, 'the call');
    client.abort(new Error('gone'));
    expect(isUfsError(await pending, 'Aborted')).toBe(true);
    expect(calls[0].signal?.aborted).toBe(true);
  });

  test('each page of a listing has a deadline; the page fetch gets the abort', async () => {
    let pageSignal: AbortSignal | undefined;
    const store = {
      kind: 'pages',
      capabilities: {},
      async *list(options: { signal?: AbortSignal }) {
        pageSignal = options.signal;
        yield { kind: 'object', key: 'a', size: 1, etag: '"e"', lastModified: new Date(0) };
        await new Promise(() => undefined); // the second page never comes
      },
      close: async () => undefined,
    } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(store, new Metrics(), { timeoutMs: 100, maxConcurrency: 2 });
    const keys: string[] = [];
    const err = await (async () => {
      for await (const entry of adapter.list({ prefix: '' })) keys.push((entry as { key: string }).key);
    })().catch((e) => e);
    expect(keys).toEqual(['a']);
    expect(isUfsError(err, 'Unavailable')).toBe(true);
    expect(pageSignal?.aborted).toBe(true);
  });
});

describe('idle watchdogs on bodies', () => {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'rc-watch-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  test('a read whose store stops sending fails Unavailable; the store stream is destroyed', async () => {
    let source: Readable | undefined;
    const store = {
      kind: 'stall',
      capabilities: {},
      read: async () => {
        let sent = 0;
        source = new Readable({
          read() {
            if (sent++ < 3) this.push(chunk); // then nothing, ever
          },
        });
        return source;
      },
      close: async () => undefined,
    } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(store, new Metrics(), { timeoutMs: 5000, idleTimeoutMs: 150, maxConcurrency: 2 });
    const stream = await adapter.read('k', undefined);
    let received = 0;
    const err = await (async () => {
      for await (const c of stream) received += (c as Buffer).length;
    })().catch((e) => e);
    expect(received).toBe(3 * chunk.length);
    expect(isUfsError(err, 'Unavailable')).toBe(true);
    expect(source?.destroyed).toBe(true);
  });

  test('a consumer that pauses longer than the idle time does not trip the read watchdog', async () => {
    const data = Array.from({ length: 40 }, () => chunk);
    const store = { kind: 'fast', capabilities: {}, read: async () => Readable.from(data), close: async () => undefined } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(store, new Metrics(), { timeoutMs: 5000, idleTimeoutMs: 50, maxConcurrency: 2 });
    const stream = await adapter.read('k', undefined);
    let received = 0;
    for await (const c of stream) {
      received += (c as Buffer).length;
      if (received === 2 * chunk.length) await new Promise((resolve) => setTimeout(resolve, 200)); // the client is slow
    }
    expect(received).toBe(40 * chunk.length);
  });

  test('a write whose store stops taking the body fails Unavailable: the store call is aborted and the body stops', async () => {
    let seen: AbortSignal | undefined;
    let bodySeen: Readable | undefined;
    const store = {
      kind: 'stuck',
      capabilities: {},
      write: async (request: WriteRequest) => {
        seen = request.signal;
        bodySeen = request.body;
        for await (const _ of request.body) {
          await new Promise(() => undefined); // takes one chunk, then never another (and ignores the abort)
        }
        return { etag: '"e"', size: 0, lastModified: new Date() };
      },
      close: async () => undefined,
    } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(store, new Metrics(), { timeoutMs: 60_000, idleTimeoutMs: 150, maxConcurrency: 2 });
    const body = Readable.from(Array.from({ length: 100 }, () => chunk));
    const err = await adapter.write({ key: 'k', body, metadata: { userMetadata: {} } }).catch((e) => e);
    expect(isUfsError(err, 'Unavailable')).toBe(true);
    expect((err as Error).message).toMatch(/took no data for 150 ms/);
    expect(seen?.aborted).toBe(true);
    expect(bodySeen).toBeDefined();
  });

  test('a client that sends slower than the idle time is not the store stalling', async () => {
    const metrics = new Metrics();
    const adapter = instrumentAdapter(new LocalAdapter({ root }), metrics, { timeoutMs: 60_000, idleTimeoutMs: 80, maxConcurrency: 2 });
    async function* trickle() {
      for (let i = 0; i < 4; i++) {
        yield chunk;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    const written = await adapter.write({ key: 'slow-client', body: Readable.from(trickle()), metadata: { userMetadata: {} } });
    expect(written.size).toBe(4 * chunk.length);
  });

  test('a store that takes the whole body but never commits fails within the commit deadline', async () => {
    let seen: AbortSignal | undefined;
    const store = {
      kind: 'nocommit',
      capabilities: {},
      uploadPart: async (request: UploadPartRequest) => {
        seen = request.signal;
        for await (const _ of request.body) {
          // takes everything
        }
        return new Promise(() => undefined); // and never answers
      },
      close: async () => undefined,
    } as unknown as UfsAdapter;
    const adapter = instrumentAdapter(store, new Metrics(), { timeoutMs: 100, idleTimeoutMs: 60_000, maxConcurrency: 2 });
    const err = await adapter.uploadPart({ uploadId: 'u', key: 'k', partNumber: 1, body: Readable.from([chunk]) }).catch((e) => e);
    expect(isUfsError(err, 'Unavailable')).toBe(true);
    expect((err as Error).message).toMatch(/did not commit uploadPart/);
    expect(seen?.aborted).toBe(true);
  });
});
