/**
 * Job records shared between the nodes (the `JobSharing` of src/jobs/job-sharing.ts): every
 * record a coordinator saves goes to every other member (`POST /_ringcache/cluster/jobs`), which
 * keeps it if it is newer than its own; a member that does not answer gets the latest record of
 * each job again until it does, or leaves the ring. A node that starts, and every node when the
 * ring changes, asks the members it had not heard from for all their records (`GET
 * /_ringcache/cluster/jobs`), so a node that was away learns what happened meanwhile before it
 * judges any lease. The successor of a job whose coordinator is gone is the first of the ring's
 * owners of `job/<id>` that is not that coordinator and not suspect.
 */
import type { JobSharing } from '../jobs/job-sharing';
import { compareRecords } from '../jobs/job-sharing';
import type { Job } from '../jobs/job-types';
import type { ClusterNode } from './cluster-node';
import type { JobRecords } from './cluster-plugin';
import type { MemberInfo } from './membership';
import type { PeerClient } from './peer-client';

/** What a job manager offers the replication: where received records go, and all it keeps. */
interface JobRecordsHolder {
  receive(records: readonly Job[]): Promise<void>;
  records(): Job[];
  sweep(): Promise<void>;
}

/** A publish waits this long for the members to confirm (the submit of a job waits for it). */
const CONFIRM_MS = 1000;
const RETRY_MS = 500;
const SYNC_MS = 5000;

export class JobReplication implements JobSharing, JobRecords {
  private holder: JobRecordsHolder | undefined;
  private synced: boolean;
  /** Member id -> job id -> the latest record it has not confirmed yet. */
  private readonly pending = new Map<string, Map<string, Job>>();
  /** Members whose records were asked for since they (re)appeared in the ring. */
  private readonly heardFrom = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly node: ClusterNode,
    private readonly peers: PeerClient,
    private readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
    clustered: boolean,
  ) {
    this.synced = !clustered;
  }

  /** The job manager whose records are shared. */
  attach(holder: JobRecordsHolder): void {
    this.holder = holder;
  }

  ready(): boolean {
    return this.synced;
  }

  async publish(record: Job): Promise<void> {
    const others = this.others();
    if (others.length === 0) return;
    await Promise.all(
      others.map((member) =>
        this.peers.postJson(member, 'jobs', '/jobs', { records: [record] }, undefined, CONFIRM_MS).catch(() => {
          let queue = this.pending.get(member.id);
          if (!queue) this.pending.set(member.id, (queue = new Map()));
          const queued = queue.get(record.id);
          if (!queued || compareRecords(record, queued) > 0) queue.set(record.id, record);
          this.schedule();
        }),
      ),
    );
  }

  successor(jobId: string, exclude: readonly string[]): string | undefined {
    const candidates = this.node.owners('job', jobId, Math.min(this.node.size, exclude.length + 3));
    return candidates.find((m) => !exclude.includes(m.id) && (m.id === this.node.self.id || !this.node.isSuspect(m.id)))?.id;
  }

  /** Records another node sent (POST /_ringcache/cluster/jobs). */
  async receive(records: readonly Job[]): Promise<void> {
    await this.holder?.receive(records);
  }

  /** Every record kept here (GET /_ringcache/cluster/jobs). */
  all(): Job[] {
    return this.holder?.records() ?? [];
  }

  /** At start (membership known): every member's records, then the first sweep of leases. */
  async start(): Promise<void> {
    await this.syncWithNewMembers();
    this.synced = true;
    await this.holder?.sweep();
  }

  /** The ring changed: records of members not heard from yet; queues of members gone are dropped. */
  membersChanged(): void {
    const ids = new Set(this.others().map((m) => m.id));
    for (const id of [...this.heardFrom]) if (!ids.has(id)) this.heardFrom.delete(id);
    for (const id of [...this.pending.keys()]) if (!ids.has(id)) this.pending.delete(id);
    if (this.synced) void this.syncWithNewMembers();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private others(): MemberInfo[] {
    return this.node
      .view()
      .members.filter((m) => !m.self)
      .map((m) => ({ id: m.id, url: m.url }));
  }

  private async syncWithNewMembers(): Promise<void> {
    const fresh = this.others().filter((m) => !this.heardFrom.has(m.id));
    await Promise.all(
      fresh.map(async (member) => {
        try {
          const { records } = await this.peers.getJson<{ records: Job[] }>(member, 'jobs', '/jobs', SYNC_MS);
          await this.holder?.receive(records);
          this.heardFrom.add(member.id);
        } catch (err) {
          this.log.warn({ peer: member.id, err: (err as Error).message }, 'could not read the job records of a member');
        }
      }),
    );
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, RETRY_MS);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    const members = new Map(this.others().map((m) => [m.id, m]));
    await Promise.all(
      [...this.pending].map(async ([id, queue]) => {
        const member = members.get(id);
        if (!member) {
          this.pending.delete(id);
          return;
        }
        const records = [...queue.values()];
        try {
          await this.peers.postJson(member, 'jobs', '/jobs', { records }, undefined, 2000);
          // Records queued meanwhile (newer) stay.
          for (const sent of records) if (queue.get(sent.id) === sent) queue.delete(sent.id);
          if (queue.size === 0) this.pending.delete(id);
        } catch {
          // Kept for the next try.
        }
      }),
    );
    if (this.pending.size > 0) this.schedule();
  }
}
