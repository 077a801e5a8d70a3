/**
 * Consul membership: this node registers itself with its local Consul agent as an instance of
 * `serviceName` (id = node id, `Meta.url` = the URL the others use), passes a TTL check every
 * ttl/3, and watches the passing instances with blocking queries. A node that crashes stops
 * passing, goes critical after the TTL and leaves everybody's ring without anyone having to
 * notice; Consul drops its registration later (DeregisterCriticalServiceAfter). stop()
 * deregisters at once, so a clean shutdown is seen immediately.
 *
 * Views and the lease: the agreed view's epoch is the Consul index (X-Consul-Index, a Raft
 * index, the same for every agent) at which this node saw the healthy set change. Every
 * heartbeat (ttl/3) passes the check and then reads the healthy set with `?consistent` (from the
 * leader, as of now); when that set is this node's view, the lease is extended to the
 * heartbeat's send time + the check TTL: the others cannot see this node's check lapse before
 * that, and a view agreed after the read is fenced for the TTL by the nodes that gain keys in it.
 * A node that cannot reach its agent (or whose agent cannot reach the leader) therefore stops
 * owning keys at most one TTL after its last good heartbeat, which is no later than the moment
 * the others can drop it (docs/cluster.md, "Lease timing").
 *
 * Answers are ordered by their Consul index, not by arrival: the watch's blocking queries may be
 * answered from a lagging view (an agent's streaming view, a stale server) after a consistent read
 * already showed a newer state. A watch answer below the newest index seen is never installed; it
 * only prompts a consistent read. Only a consistent read *sent after* the newest index was seen
 * can show that the index went back (a restored snapshot, a new cluster): then the views go on
 * from it with growing epochs.
 *
 * Consul is not on the read path: while the agent cannot be reached the last known members are
 * kept (one warning per outage; the lease runs out meanwhile), the package's watch retries with
 * backoff and the heartbeat keeps trying. A heartbeat answered 404 means the agent forgot this
 * node (restarted without its state, or reaped it): it registers again.
 */
import { EventEmitter } from 'node:events';
import Consul from 'consul';
import type { CheckOptions } from 'consul/lib/agent/check';
import type { RingcacheConfig } from '../config/schema';
import { untilAborted } from '../util/until-aborted';
import { Lease } from './lease';
import { byId, sameMembers, ViewSet, type MemberInfo, type Membership } from './membership';
import { ViewedMembership } from './viewed-membership';

/** The parsed `cluster.consul` section. */
export type ConsulConfig = NonNullable<RingcacheConfig['cluster']['consul']>;

interface ConsulMembershipOptions {
  consul: ConsulConfig;
  self: MemberInfo;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Monotonic clock (ms) for the lease. */
  clock?: () => number;
}

/** Register, heartbeat and deregister calls give up after this long (an agent that hangs). */
const REQUEST_TIMEOUT_MS = 5_000;
/** start() fails when the first member set has not arrived in this time. */
const START_TIMEOUT_MS = 5_000;

export class ConsulMembership extends ViewedMembership implements Membership {
  readonly lease: Lease;
  readonly leaseMs: number;
  private readonly clock: () => number;
  private readonly consul: Consul;
  private readonly config: ConsulConfig;
  private readonly self: MemberInfo;
  private readonly log: ConsulMembershipOptions['log'];
  private watch: ReturnType<Consul['watch']> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private heartbeating: Promise<void> | undefined;
  /**
   * What is failing now (the TTL check, the health watch). One warning when the first starts
   * failing, one info line when the last recovers: each channel clears only its own failure, so
   * heartbeats that pass while the watch keeps failing (a hung blocking query) do not make the
   * warning flap.
   */
  private readonly failing = new Set<Channel>();
  private registered = false;
  private stopped = false;
  /** The highest Consul index answered so far (either channel), and when (clock) it arrived. */
  private newest = { index: 0, at: Number.NEGATIVE_INFINITY };

  constructor(options: ConsulMembershipOptions) {
    super(new ViewSet(options.log));
    ({ consul: this.config, self: this.self, log: this.log } = options);
    this.clock = options.clock ?? (() => performance.now());
    this.lease = new Lease(this.clock);
    this.leaseMs = this.config.checkTtlSeconds * 1000;
    const agent = hostAndPort(this.config.url);
    // `timeout` (papi's default per request) is missing from the package's typings; the watch sets its own.
    const clientOptions: ConstructorParameters<typeof Consul>[0] & { timeout: number } = {
      ...agent,
      timeout: REQUEST_TIMEOUT_MS,
      ...(this.config.token ? { defaults: { token: this.config.token } } : {}),
    };
    this.consul = new Consul(clientOptions);
  }

  async start(): Promise<void> {
    try {
      const sentAt = this.clock();
      await this.register();
      this.scheduleHeartbeat();
      await this.watchMembers();
      await this.confirm(sentAt).catch((err: unknown) => this.failed(err, 'confirmation'));
    } catch (err) {
      await this.stop();
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`Consul agent at ${this.config.url} could not be used to join the cluster: ${reason}`, { cause: err });
    }
  }

  /** Reads the healthy set from the leader; adopts its index as the epoch when it is at least `epoch`. */
  async catchUp(epoch: number, _from: MemberInfo | undefined, signal: AbortSignal): Promise<boolean> {
    if (this.view().epoch >= epoch) return true;
    try {
      const answer = await untilAborted(this.consistentRead(), signal);
      if (answer.index >= this.newest.index) this.newest = { index: answer.index, at: this.clock() };
      if (answer.index >= epoch) this.views.set({ epoch: answer.index, members: answer.members });
    } catch {
      // not reachable in time: the caller answers 503
    }
    return this.view().epoch >= epoch;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.lease.revoke();
    clearTimeout(this.timer);
    this.watch?.end();
    await this.heartbeating;
    if (this.registered) {
      await this.consul.agent.service.deregister(this.self.id).catch((err: unknown) => {
        this.log.warn({ err, consul: this.config.url }, 'could not deregister from Consul; it drops us after the TTL');
      });
    }
    this.consul.destroy();
  }

  /** Registers this node with a TTL check and passes it at once (a new check starts critical). */
  private async register(): Promise<void> {
    const { host, port } = hostAndPort(this.self.url);
    await this.consul.agent.service.register({
      id: this.self.id,
      name: this.config.serviceName,
      address: host.replace(/^\[(.*)\]$/, '$1'),
      port,
      meta: { url: this.self.url },
      // The typings require `timeout`, which only interval checks have.
      check: {
        name: `${this.config.serviceName} heartbeat`,
        ttl: `${this.config.checkTtlSeconds}s`,
        deregistercriticalserviceafter: `${this.config.deregisterCriticalAfterSeconds}s`,
      } as CheckOptions,
    });
    this.registered = true;
    await this.consul.agent.check.pass({ id: `service:${this.self.id}` });
  }

  private scheduleHeartbeat(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.heartbeating = this.heartbeat().finally(() => this.scheduleHeartbeat());
    }, (this.config.checkTtlSeconds * 1000) / 3);
    this.timer.unref();
  }

  /** Never throws: failures are logged once per outage. */
  private async heartbeat(): Promise<void> {
    const sentAt = this.clock();
    try {
      await this.consul.agent.check.pass({ id: `service:${this.self.id}` }).catch(async (err: unknown) => {
        if ((err as { statusCode?: unknown } | undefined)?.statusCode !== 404 || this.stopped) throw err;
        this.log.info({ id: this.self.id, consul: this.config.url }, 'Consul agent forgot this node; registering again');
        await this.register();
      });
      this.recovered('TTL check');
    } catch (err) {
      this.failed(err, 'TTL check');
      return;
    }
    try {
      await this.confirm(sentAt);
      this.recovered('confirmation');
    } catch (err) {
      this.failed(err, 'confirmation');
    }
  }

  /**
   * After a passed check sent at `sentAt`: a consistent read of the healthy set (another set than
   * the view becomes the next view). When this node is in it, the lease is extended from `sentAt`.
   */
  private async confirm(sentAt: number): Promise<void> {
    const answer = await this.consistentRead();
    // Another set than the view: it becomes the next view, confirmed by this same read.
    this.fromLeader(answer, sentAt);
    if (sameMembers(answer.members, this.view().members) && answer.members.some((m) => m.id === this.self.id)) this.lease.extend(sentAt, this.leaseMs);
  }

  /** The passing instances as the leader has them now, with the index of that answer. */
  private async consistentRead(): Promise<{ index: number; members: MemberInfo[] }> {
    const [res, data] = (await this.consul.health.service({
      service: this.config.serviceName,
      passing: true,
      consistent: true,
      timeout: REQUEST_TIMEOUT_MS,
      // The package returns the response too for a context that asks (it must be an EventEmitter).
      ctx: Object.assign(new EventEmitter(), { includeResponse: true }),
    } as unknown as Parameters<Consul['health']['service']>[0])) as unknown as [{ headers: Record<string, string | undefined> }, unknown];
    return { index: Number(res.headers['x-consul-index'] ?? 0), members: parseMembers(data) };
  }

  /** A watch answer: installed when it is not older than what this node has seen already. */
  private fromWatch(members: MemberInfo[], index: number): void {
    if (index >= this.newest.index) {
      this.newest = { index, at: this.clock() };
      this.adopt(members, index);
      return;
    }
    // Older than an answer seen before: a lagging view, or an index that went back. Ask the leader.
    const sentAt = this.clock();
    void this.consistentRead().then(
      (answer) => this.fromLeader(answer, sentAt),
      (err: unknown) => this.failed(err, 'confirmation'),
    );
  }

  /** A consistent read sent at `sentAt`: the leader's state then, unless it is older than one seen since. */
  private fromLeader(answer: { index: number; members: MemberInfo[] }, sentAt: number): void {
    if (answer.index >= this.newest.index) {
      this.newest = { index: answer.index, at: this.clock() };
    } else if (sentAt > this.newest.at) {
      // Asked after the newest answer arrived and below it: the index went back (a restored snapshot).
      this.newest = { index: answer.index, at: this.clock() };
    } else {
      return; // overtaken by a newer answer that arrived while this one was on its way
    }
    if (!sameMembers(answer.members, this.view().members)) this.adopt(answer.members, answer.index);
  }

  /** A new healthy set seen at Consul index `index` becomes the next view. */
  private adopt(members: MemberInfo[], index: number): void {
    const current = this.view();
    if (sameMembers(members, current.members) && current.epoch > 0) return;
    // An index that went back (a restored snapshot, a new cluster): epochs still only grow.
    let epoch = index;
    if (!(epoch > current.epoch)) {
      this.log.warn({ index, epoch: current.epoch }, 'Consul index went back; continuing the epochs from the last one');
      epoch = current.epoch + 1;
    }
    this.views.set({ epoch, members });
  }

  /** Resolves on the first answer; rejects on an error, an end or silence before it. */
  private watchMembers(): Promise<void> {
    return new Promise((resolve, reject) => {
      let pending = true;
      const settle = (err?: unknown): void => {
        if (!pending) return;
        pending = false;
        clearTimeout(timeout);
        if (err === undefined) resolve();
        else reject(err instanceof Error ? err : new Error(String(err)));
      };
      const timeout = setTimeout(() => settle(new Error(`no answer within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const health = this.consul.health;
      const recovered = (): void => this.recovered('health watch');
      const watch = this.consul.watch({
        // Every answer counts as a recovery, also one that changes nothing (no 'change' event).
        method: function (this: unknown, options: Parameters<typeof health.service>[0]) {
          return health.service.call(this, options).then((answer: unknown) => {
            recovered();
            return answer;
          });
        } as typeof health.service,
        options: { service: this.config.serviceName, passing: 'true', wait: `${this.config.waitSeconds}s` },
        // At most one TTL between attempts, so a recovered agent is seen again quickly.
        backoffMax: Math.min(30_000, this.config.checkTtlSeconds * 1000),
      });
      this.watch = watch;
      watch.on('change', (data: unknown, res: { headers?: Record<string, string | undefined> } | undefined) => {
        this.fromWatch(parseMembers(data), Number(res?.headers?.['x-consul-index'] ?? 0));
        settle();
      });
      watch.on('error', (err: unknown) => (pending ? settle(err) : this.failed(err, 'health watch')));
      watch.on('end', () => {
        settle(new Error('the watch ended before its first answer'));
        if (!this.stopped) this.log.warn({ consul: this.config.url }, 'Consul watch ended; membership is frozen');
      });
    });
  }


  private failed(err: unknown, what: Channel): void {
    if (this.stopped || this.failing.has(what)) return;
    this.failing.add(what);
    if (this.failing.size > 1) return; // the outage was reported already
    const members = this.members().map((m) => m.id);
    this.log.warn({ err, consul: this.config.url, members }, `Consul ${what} failed; keeping the last known members`);
  }

  private recovered(what: Channel): void {
    if (!this.failing.delete(what) || this.failing.size > 0) return;
    this.log.info({ consul: this.config.url }, 'Consul answers again');
  }
}

/** The two ways this node talks to its agent. */
type Channel = 'TTL check' | 'health watch' | 'confirmation';

function hostAndPort(url: string): { host: string; port: number; secure: boolean } {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'https:';
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : secure ? 443 : 80, secure };
}

type HealthEntry = {
  Node?: { Address?: unknown };
  Service?: { ID?: unknown; Address?: unknown; Port?: unknown; Meta?: { url?: unknown } | null };
} | null;

/** The body of /v1/health/service/:name as members, sorted by id, one per id. */
function parseMembers(data: unknown): MemberInfo[] {
  const members = new Map<string, MemberInfo>();
  for (const entry of Array.isArray(data) ? (data as HealthEntry[]) : []) {
    const service = entry?.Service;
    if (typeof service?.ID !== 'string' || members.has(service.ID)) continue;
    const fallback = `http://${String(service.Address || entry?.Node?.Address)}:${String(service.Port)}`;
    members.set(service.ID, { id: service.ID, url: typeof service.Meta?.url === 'string' ? service.Meta.url : fallback });
  }
  return [...members.values()].sort(byId);
}
