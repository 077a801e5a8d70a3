/**
 * etcd membership (as Alluxio Dora keeps its workers): each node grants itself an etcd lease of
 * `leaseSeconds`, puts `<prefix>/members/<id>` = {id, url} under it and keeps it alive; the
 * agreed view is the key `<prefix>/view` = {members}, and its epoch is that key's mod revision
 * (etcd's own revision: one sequence for the whole cluster). Every node watches the prefix;
 * whenever the live member keys differ from the view, any node rewrites the view with a
 * compare-and-swap on its mod revision, so exactly one new view follows each change.
 *
 * The ownership lease: every leaseSeconds/3 a node renews its etcd lease and then reads (a
 * linearizable range, through the leader) the view and its own member key. When the key is
 * there and the view lists the node, its lease is extended to the renewal's send time +
 * leaseSeconds. etcd drops the member key no earlier than that (the lease was renewed after it
 * was sent), so no view without this node can exist before its own lease has ended; and a view
 * agreed after the read is fenced for leaseSeconds by the nodes that gain keys in it. A node
 * that cannot reach etcd (or whose etcd member lost its quorum) stops owning keys at most
 * leaseSeconds after its last good renewal.
 */
import { EtcdClient, type EtcdKv } from './etcd-client';
import { Lease } from './lease';
import { byId, sameMembers, ViewSet, type MemberInfo, type Membership } from './membership';
import { ViewedMembership } from './viewed-membership';

interface EtcdConfig {
  endpoints: string[];
  /** Keys live under it; one cluster per prefix. */
  prefix: string;
  /** TTL of each node's etcd lease, and the length of its ownership lease. */
  leaseSeconds: number;
  /** Deadline of each etcd call. */
  requestTimeoutMs: number;
}

interface EtcdMembershipOptions {
  etcd: EtcdConfig;
  self: MemberInfo;
  clock: () => number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** start() fails when etcd has not answered in this time. */
const START_TIMEOUT_MS = 10_000;

export class EtcdMembership extends ViewedMembership implements Membership {
  readonly lease: Lease;
  readonly leaseMs: number;
  private readonly client: EtcdClient;
  private readonly prefix: string;
  private leaseId: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private watching: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private failing = false;

  constructor(private readonly options: EtcdMembershipOptions) {
    super(new ViewSet(options.log));
    this.client = new EtcdClient(options.etcd.endpoints, options.etcd.requestTimeoutMs);
    this.lease = new Lease(options.clock);
    this.leaseMs = options.etcd.leaseSeconds * 1000;
    this.prefix = options.etcd.prefix.replace(/\/+$/, '');
  }

  private get membersPrefix(): string {
    return `${this.prefix}/members/`;
  }

  private get viewKey(): string {
    return `${this.prefix}/view`;
  }

  async start(): Promise<void> {
    const deadline = AbortSignal.timeout(START_TIMEOUT_MS);
    try {
      const sentAt = this.options.clock();
      await this.register();
      await this.reconcile();
      await this.confirm(sentAt);
    } catch (err) {
      await this.stop();
      const reason = deadline.aborted ? `no answer within ${START_TIMEOUT_MS} ms` : (err as Error).message;
      throw new Error(`etcd at ${this.options.etcd.endpoints.join(', ')} could not be used to join the cluster: ${reason}`, { cause: err });
    }
    this.watching = this.watchLoop();
    this.schedule();
  }

  async catchUp(epoch: number, _from: MemberInfo | undefined, signal: AbortSignal): Promise<boolean> {
    if (this.view().epoch >= epoch) return true;
    try {
      const read = this.client.range(this.viewKey);
      const answer = await Promise.race([read, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
      if (answer.kvs[0]) this.adopt(answer.kvs[0]);
    } catch {
      // not reachable in time: the caller answers 503
    }
    return this.view().epoch >= epoch;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    this.lease.revoke();
    await this.renewing;
    await this.watching?.catch(() => undefined);
    // Leave at once: the others see the member key go now, not after the TTL.
    if (this.leaseId) await this.client.revoke(this.leaseId).catch(() => undefined);
    this.leaseId = undefined;
  }

  /** A fresh etcd lease with this node's member key under it. */
  private async register(): Promise<void> {
    const { id } = await this.client.grant(this.options.etcd.leaseSeconds);
    this.leaseId = id;
    await this.client.put(`${this.membersPrefix}${this.options.self.id}`, JSON.stringify(this.options.self), id);
  }

  private schedule(): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.renewing = this.renew().finally(() => this.schedule());
    }, (this.options.etcd.leaseSeconds * 1000) / 3);
    this.timer.unref();
  }

  /** Renews the etcd lease (registering again if etcd dropped it), then confirms the view. Never throws. */
  private async renew(): Promise<void> {
    const sentAt = this.options.clock();
    try {
      const ttl = this.leaseId ? await this.client.keepAlive(this.leaseId) : 0;
      if (ttl <= 0) {
        this.options.log.info({ id: this.options.self.id }, 'etcd lease expired; registering again');
        await this.register();
      }
      await this.confirm(sentAt);
      if (this.failing) this.options.log.info({ etcd: this.options.etcd.endpoints }, 'etcd answers again');
      this.failing = false;
    } catch (err) {
      if (!this.failing && !this.stopping.signal.aborted) this.options.log.warn({ err, etcd: this.options.etcd.endpoints }, 'etcd lease renewal failed; this node stops owning keys when its lease ends');
      this.failing = true;
    }
  }

  /** Reads the view and this node's member key (linearizable); extends the lease from `sentAt` when both hold. */
  private async confirm(sentAt: number): Promise<void> {
    const [view, mine] = await Promise.all([this.client.range(this.viewKey), this.client.range(`${this.membersPrefix}${this.options.self.id}`)]);
    if (view.kvs[0]) this.adopt(view.kvs[0]);
    const registered = mine.kvs[0]?.lease !== undefined && mine.kvs[0]?.lease === this.leaseId;
    if (!registered) {
      // The member key went (its lease expired): the next renewal registers again.
      this.leaseId = undefined;
      return;
    }
    if (!this.view().members.some((m) => m.id === this.options.self.id)) {
      await this.reconcile();
      return;
    }
    this.lease.extend(sentAt, this.leaseMs);
  }

  /** Rewrites the view when the live member keys differ from it (compare-and-swap; one writer wins). */
  private async reconcile(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const [members, view] = await Promise.all([this.client.range(this.membersPrefix, true), this.client.range(this.viewKey)]);
      const live = parseMembers(members.kvs);
      const current = view.kvs[0];
      if (current) this.adopt(current);
      if (current && sameMembers(live, parseView(current.value))) return;
      const written = await this.client.putIfUnchanged(this.viewKey, current?.modRevision ?? 0, JSON.stringify({ members: live }));
      if (written.succeeded) {
        this.adopt({ key: this.viewKey, value: JSON.stringify({ members: live }), modRevision: written.revision, createRevision: current?.createRevision ?? written.revision, lease: undefined });
        return;
      }
    }
  }

  private adopt(kv: EtcdKv): void {
    const members = parseView(kv.value);
    this.views.set({ epoch: kv.modRevision, members });
  }

  /** Follows the prefix: view changes are adopted, member changes reconciled. Restarts after failures. */
  private async watchLoop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        const { revision } = await this.client.range(this.viewKey);
        await this.reconcile();
        await this.client.watch(
          `${this.prefix}/`,
          revision + 1,
          (events) => {
            for (const event of events) if (event.kv.key === this.viewKey && event.type === 'PUT') this.adopt(event.kv);
            if (events.some((e) => e.kv.key.startsWith(this.membersPrefix))) void this.reconcile().catch(() => undefined);
          },
          signal,
        );
      } catch {
        // etcd unreachable or the watch broke: the lease runs out meanwhile; try again
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, Math.min(1000, this.leaseMs / 3)).unref());
    }
  }
}

function parseMembers(kvs: EtcdKv[]): MemberInfo[] {
  const members: MemberInfo[] = [];
  for (const kv of kvs) {
    try {
      const m = JSON.parse(kv.value) as { id?: unknown; url?: unknown };
      if (typeof m.id === 'string' && typeof m.url === 'string') members.push({ id: m.id, url: m.url });
    } catch {
      // not ours
    }
  }
  return members.sort(byId);
}

function parseView(value: string): MemberInfo[] {
  try {
    const parsed = JSON.parse(value) as { members?: unknown };
    return Array.isArray(parsed.members) ? parseMembers(parsed.members.map((m) => ({ key: '', value: JSON.stringify(m), modRevision: 0, createRevision: 0, lease: undefined }))) : [];
  } catch {
    return [];
  }
}
