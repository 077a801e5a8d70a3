/**
 * Tells owners that keys changed behind their back: a write served by a successor while the
 * owner was unreachable, or a multi-object delete served by whichever node received it. The
 * owner drops its cached metadata (and so its pages) for those keys. Pending keys are kept
 * per owner and retried until it answers; past a bound (keys or age), the owner is told to
 * expire all of its metadata instead, which is always safe.
 */
import type { Metrics } from '../admin/metrics';
import type { ClusterNode } from './cluster-node';
import type { PeerClient } from './peer-client';

/** What an owner receives on /_ringcache/cluster/invalidate. */
interface InvalidateRequest {
  /** Bucket -> keys whose metadata must be dropped. */
  keys: Record<string, string[]>;
  /** Expire every metadata record fetched before now (the relay lost track of keys). */
  all?: boolean;
}

const MAX_KEYS_PER_OWNER = 10_000;
const FLUSH_INTERVAL_MS = 250;

interface Pending {
  keys: Map<string, Set<string>>;
  count: number;
  all: boolean;
  since: number;
}

export class InvalidationRelay {
  private readonly pending = new Map<string, Pending>();
  /** Owners whose pending keys are in flight to them. */
  private readonly sending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private stopped = false;

  constructor(
    private readonly node: ClusterNode,
    private readonly peers: PeerClient,
    private readonly metrics: Metrics,
    /** Give up on an owner that has not answered for this long (it will rejoin with a ring change, which expires everything). */
    private readonly giveUpMs: number,
  ) {}

  /** Queues `keys` of `bucket` for each owner in `ownerIds` other than this node. */
  tellLater(bucket: string, keys: readonly string[], ownerIds: readonly string[]): void {
    for (const id of ownerIds) {
      if (id === this.node.self.id) continue;
      let entry = this.pending.get(id);
      if (!entry) {
        entry = { keys: new Map(), count: 0, all: false, since: Date.now() };
        this.pending.set(id, entry);
      }
      for (const key of keys) {
        if (entry.all) break;
        let set = entry.keys.get(bucket);
        if (!set) entry.keys.set(bucket, (set = new Set()));
        if (!set.has(key)) {
          set.add(key);
          entry.count++;
        }
        if (entry.count > MAX_KEYS_PER_OWNER) {
          entry.all = true;
          entry.keys.clear();
        }
      }
    }
    this.schedule(0);
  }

  /**
   * Tells the owners now and waits for them (at most `deadlineMs`), so the caller can
   * acknowledge its client afterwards; an owner that does not answer in time gets the keys
   * through the queue instead.
   */
  async tellNow(bucket: string, keys: readonly string[], ownerIds: readonly string[], deadlineMs = 1000): Promise<void> {
    await Promise.all(
      ownerIds
        .filter((id) => id !== this.node.self.id)
        .map(async (id) => {
          const member = this.node.member(id);
          try {
            if (!member) throw new Error('not a member');
            await this.peers.postJson(member, 'invalidate', '/invalidate', { keys: { [bucket]: [...keys] } } satisfies InvalidateRequest, undefined, deadlineMs);
            this.metrics.clusterInvalidationsSent.labels('sent').inc(keys.length);
          } catch {
            this.tellLater(bucket, keys, [id]);
          }
        }),
    );
  }

  /**
   * Whether writes served for owner `id` have not been told to it yet (queued, or being sent).
   * Such an owner gets no new requests from this node until it has heard of them: it must not
   * serve a key as its owner again with the metadata it had before the write.
   */
  owes(id: string): boolean {
    return this.pending.has(id) || this.sending.has(id);
  }

  /** An owner came back (a ring change): try what is pending for it now rather than at the next tick. */
  retryNow(): void {
    if (this.pending.size === 0 || this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delay: number): void {
    if (this.stopped || this.timer || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      await Promise.all([...this.pending].map(([id, entry]) => this.send(id, entry)));
    } finally {
      this.flushing = false;
      this.schedule(FLUSH_INTERVAL_MS);
    }
  }

  private async send(id: string, entry: Pending): Promise<void> {
    // Keys queued while this request is in flight start a new entry.
    this.pending.delete(id);
    this.sending.add(id);
    const member = this.node.member(id);
    const body: InvalidateRequest = { keys: Object.fromEntries([...entry.keys].map(([b, set]) => [b, [...set]])), all: entry.all || undefined };
    const count = entry.all ? 1 : entry.count;
    try {
      if (!member) throw new Error('not a member');
      await this.peers.postJson(member, 'invalidate', '/invalidate', body, AbortSignal.timeout(2000));
      this.metrics.clusterInvalidationsSent.labels('sent').inc(count);
      this.sending.delete(id);
    } catch {
      this.sending.delete(id);
      if (Date.now() - entry.since > this.giveUpMs) {
        this.metrics.clusterInvalidationsSent.labels('dropped').inc(count);
        return;
      }
      const newer = this.pending.get(id);
      this.pending.set(id, entry);
      if (newer) {
        if (newer.all) entry.all = true;
        for (const [bucket, keys] of newer.keys) this.tellLater(bucket, [...keys], [id]);
      }
    }
  }
}
