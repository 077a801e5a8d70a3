/**
 * The last minutes of one node, for the dashboard: every `intervalMs` (5 s) the node's counters
 * are read from its metrics and what they grew by since the previous reading is kept in a ring
 * buffer of `keep` intervals (120: ten minutes). Page lookups by result, object bytes served by
 * tier, store calls, failures and time spent, S3 requests and error answers, cache errors and
 * answers served stale. Counters only, so nothing here can drift from /_ringcache/metrics.
 */
import type { Metrics } from './metrics';

/** Counter readings (cumulative since the node started), or their growth over an interval. */
interface Counts {
  lookups: { memory: number; disk: number; miss: number };
  /** Object bytes served, by the tier they came from ("store" is a page miss read from the store). */
  served: { memory: number; disk: number; peer: number; store: number };
  storeCalls: number;
  /** Store calls that failed for the store's sake (unavailable, throttled, denied, unexpected). */
  storeErrors: number;
  /** Seconds spent in store calls (their sum: divide by storeCalls for the mean). */
  storeSeconds: number;
  requests: number;
  clientErrors: number;
  serverErrors: number;
  /** Cache operations that failed (treated as misses) and pages that failed their checksum. */
  cacheErrors: number;
  /** Metadata answered from cache while the store was unreachable (serve-stale). */
  staleAnswers: number;
}

interface StatsSample extends Counts {
  /** End of the interval (ISO time) and its length. */
  at: string;
  seconds: number;
}

interface TierFill {
  bytes: number;
  pages: number;
  quotaBytes: number;
}

interface CacheFill {
  memory: TierFill;
  disk: TierFill;
}

interface NodeStatsOptions {
  metrics: Metrics;
  /** Pages and bytes held now, and the quotas; undefined without a cache. */
  fill?: () => CacheFill;
  intervalMs?: number;
  keep?: number;
  now?: () => number;
}

const STORE_FAILURES = new Set(['Unavailable', 'Throttled', 'Denied', 'error']);

const zero = (): Counts => ({
  lookups: { memory: 0, disk: 0, miss: 0 },
  served: { memory: 0, disk: 0, peer: 0, store: 0 },
  storeCalls: 0,
  storeErrors: 0,
  storeSeconds: 0,
  requests: 0,
  clientErrors: 0,
  serverErrors: 0,
  cacheErrors: 0,
  staleAnswers: 0,
});

function minus(a: Counts, b: Counts): Counts {
  return {
    lookups: { memory: a.lookups.memory - b.lookups.memory, disk: a.lookups.disk - b.lookups.disk, miss: a.lookups.miss - b.lookups.miss },
    served: { memory: a.served.memory - b.served.memory, disk: a.served.disk - b.served.disk, peer: a.served.peer - b.served.peer, store: a.served.store - b.served.store },
    storeCalls: a.storeCalls - b.storeCalls,
    storeErrors: a.storeErrors - b.storeErrors,
    storeSeconds: a.storeSeconds - b.storeSeconds,
    requests: a.requests - b.requests,
    clientErrors: a.clientErrors - b.clientErrors,
    serverErrors: a.serverErrors - b.serverErrors,
    cacheErrors: a.cacheErrors - b.cacheErrors,
    staleAnswers: a.staleAnswers - b.staleAnswers,
  };
}

type Values = { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];

const sum = (values: Values, where: (labels: Values[number]['labels'], name?: string) => boolean = () => true): number =>
  values.reduce((n, v) => (where(v.labels, v.metricName) ? n + v.value : n), 0);

/** The node's counters now (cumulative). */
async function readCounts(metrics: Metrics): Promise<Counts> {
  const [lookups, served, calls, seconds, requests, cacheErrors, checksums, metadata] = await Promise.all([
    metrics.cachePageLookups.get(),
    metrics.cacheBytesServed.get(),
    metrics.ufsCalls.get(),
    metrics.ufsCallSeconds.get(),
    metrics.requests.get(),
    metrics.cacheErrors.get(),
    metrics.cacheChecksumFailures.get(),
    metrics.metadataLookups.get(),
  ]);
  const by = (values: Values, label: string, value: string): number => sum(values, (l) => l[label] === value);
  const status = (l: Values[number]['labels']): number => Number(l.status);
  return {
    lookups: { memory: by(lookups.values, 'result', 'memory'), disk: by(lookups.values, 'result', 'disk'), miss: by(lookups.values, 'result', 'miss') },
    served: { memory: by(served.values, 'tier', 'memory'), disk: by(served.values, 'tier', 'disk'), peer: by(served.values, 'tier', 'peer'), store: by(served.values, 'tier', 'ufs') },
    storeCalls: sum(calls.values),
    storeErrors: sum(calls.values, (l) => STORE_FAILURES.has(String(l.outcome))),
    storeSeconds: sum(seconds.values as Values, (_l, name) => name === 'ringcache_ufs_call_seconds_sum'),
    requests: sum(requests.values),
    clientErrors: sum(requests.values, (l) => status(l) >= 400 && status(l) < 500),
    serverErrors: sum(requests.values, (l) => status(l) >= 500),
    cacheErrors: sum(cacheErrors.values) + sum(checksums.values),
    staleAnswers: by(metadata.values, 'result', 'stale'),
  };
}

export class NodeStats {
  readonly intervalMs: number;
  private readonly keep: number;
  private readonly now: () => number;
  private readonly samples: StatsSample[] = [];
  private last: { at: number; counts: Counts } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(private readonly options: NodeStatsOptions) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.keep = options.keep ?? 120;
    this.now = options.now ?? Date.now;
  }

  /** Takes a first reading now, then one every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the counters and keeps what they grew by since the last reading (one reading at a time). */
  sample(): Promise<void> {
    this.sampling ??= this.read().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async read(): Promise<void> {
    const counts = await readCounts(this.options.metrics);
    const at = this.now();
    if (this.last) {
      this.samples.push({ at: new Date(at).toISOString(), seconds: (at - this.last.at) / 1000, ...minus(counts, this.last.counts) });
      if (this.samples.length > this.keep) this.samples.splice(0, this.samples.length - this.keep);
    }
    this.last = { at, counts };
  }

  /** The kept intervals (oldest first), the counters since start, and the cache's fill now. */
  async view(): Promise<{ intervalSeconds: number; totals: Counts; samples: StatsSample[]; cache: CacheFill | null }> {
    return {
      intervalSeconds: this.intervalMs / 1000,
      totals: await readCounts(this.options.metrics).catch(() => this.last?.counts ?? zero()),
      samples: [...this.samples],
      cache: this.options.fill?.() ?? null,
    };
  }
}
