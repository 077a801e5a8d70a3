/**
 * Static membership: the nodes listed in the configuration. Each peer is probed on its
 * health endpoint; one that fails `failuresBeforeDown` probes in a row leaves the healthy
 * set (and the ring) until a probe succeeds again. This node is always a member.
 */
import { request, type Dispatcher } from 'undici';
import { byId, MemberSet, type MemberInfo, type Membership } from './membership';

export interface StaticMembershipOptions {
  self: MemberInfo;
  peers: readonly MemberInfo[];
  probeIntervalMs: number;
  probeTimeoutMs: number;
  failuresBeforeDown: number;
  /** Path probed on each peer. */
  healthPath: string;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** The HTTP client of the probes (TLS settings); undici's global one without. */
  dispatcher?: Dispatcher;
}

export class StaticMembership implements Membership {
  private readonly peers: MemberInfo[];
  /** Consecutive failed probes per peer id (absent: never probed). */
  private readonly failures = new Map<string, number>();
  private readonly set: MemberSet;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: StaticMembershipOptions) {
    this.peers = options.peers.filter((p) => p.id !== options.self.id);
    this.set = new MemberSet([options.self], options.log);
  }

  async start(): Promise<void> {
    if (this.peers.length === 0) return;
    await this.probeAll();
    const tick = (): void => {
      if (this.stopped) return;
      this.probing = this.probeAll().finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.options.probeIntervalMs);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(tick, this.options.probeIntervalMs);
    this.timer.unref();
  }

  members(): readonly MemberInfo[] {
    return this.set.get();
  }

  onChange(listener: (members: readonly MemberInfo[]) => void): () => void {
    return this.set.onChange(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.probing;
  }

  private async probeAll(): Promise<void> {
    await Promise.all(
      this.peers.map(async (peer) => {
        const ok = await this.probe(peer);
        this.failures.set(peer.id, ok ? 0 : (this.failures.get(peer.id) ?? this.options.failuresBeforeDown - 1) + 1);
      }),
    );
    const healthy = this.peers.filter((p) => (this.failures.get(p.id) ?? 0) < this.options.failuresBeforeDown);
    this.set.set([this.options.self, ...healthy].sort(byId));
  }

  private async probe(peer: MemberInfo): Promise<boolean> {
    try {
      const response = await request(new URL(this.options.healthPath, peer.url), {
        signal: AbortSignal.timeout(this.options.probeTimeoutMs),
        dispatcher: this.options.dispatcher,
        headers: { 'x-ringcache-probe-from': this.options.self.id },
      });
      await response.body.dump();
      return response.statusCode === 200;
    } catch {
      return false;
    }
  }
}
