/**
 * The job records a process holds, under leases. Every unfinished job a process queues or
 * runs carries a lease: a random id of the process (new at every start), its node id, and when
 * it was last renewed. The holder renews it with each save (at least every leaseSeconds/6, 10 s
 * at most). A job is an orphan, which this process may claim, when its lease was released (a
 * graceful shutdown), when it was held by an earlier process of this very node id (this node
 * restarted), or when it has not been renewed for `leaseMs`, by the record's own clock and, for a
 * record received from another node (whose clock may differ from ours), since it was received. Saves and claims are compare-and-set writes, so one job never
 * has two holders in one state directory: a holder whose save finds the lease taken has lost the
 * job and must stop it. A restart under another node id (a recreated container) still finds its
 * jobs once their lease is released or lapsed.
 *
 * Every record written is handed to `onSaved` (the cluster shares it with the other nodes); each
 * carries its claim number (`term`, one more at each takeover) and its save number (`seq`).
 */
import { randomBytes } from 'node:crypto';
import type { JobStore } from './job-store';
import { isFinished, type Job } from './job-types';

export const RESTART_REASON = 'coordinator restarted while the job was running; resubmit to continue';
export const RESTART_QUEUED_REASON = 'coordinator restarted before the job started; resubmit to run it';

/**
 * What becomes of an orphan taken over (changes `job`, to be claimed): with `resume`, it is
 * queued again, from its checkpoint (returns true); otherwise it fails with the reason.
 */
export function takeOver(job: Job, how: { resume: boolean; nodeId: string; now: number }): boolean {
  const wasRunning = job.state === 'running';
  const at = new Date(how.now).toISOString();
  if (!how.resume) {
    job.term = (job.term ?? 0) + 1;
    job.seq = 0;
    job.coordinator = how.nodeId;
    job.progress.etaSeconds = null;
    job.state = 'failed';
    job.reason = wasRunning ? RESTART_REASON : RESTART_QUEUED_REASON;
    job.finishedAt = at;
    return false;
  }
  if (wasRunning) {
    job.resumes++;
    job.resumedAt = at;
  }
  job.term = (job.term ?? 0) + 1;
  job.seq = 0;
  job.coordinator = how.nodeId;
  job.state = 'queued';
  return true;
}

interface Log {
  warn(obj: object, msg: string): void;
}

export class JobLeases {
  /** This process, as lease holder. */
  readonly holder = randomBytes(8).toString('hex');
  private readonly writes = new Set<Promise<boolean>>();

  constructor(
    private readonly store: JobStore,
    private readonly nodeId: string,
    private readonly now: () => number,
    private readonly log: Log,
    /** A save found the lease held by another process. */
    private readonly onLost: (job: Job) => void,
    /** A record was written (the cluster shares it; resolves once the other nodes have it, or gave up). */
    private readonly onSaved: (record: Job) => Promise<void> = async () => undefined,
  ) {}

  /**
   * Saves the record of a job this process holds, with its lease (none once finished, or with
   * `release`), if the record stored now is new or still under our lease; otherwise (another
   * process claimed it, or even finished it) the job is lost (`onLost`). Final and released
   * records are saved durably. Resolves whether it was written; never rejects.
   */
  save(job: Job, options: { release?: boolean } = {}): Promise<boolean> {
    return this.write(job, (current) => current === undefined || current.lease?.holder === this.holder, options.release === true, true);
  }

  /**
   * Unfinished jobs whose lease is free, lapsed, or an earlier process's of this node, and that
   * `held` does not name; oldest first. `heardAt(id)`: when this process last received the job's
   * record from another node (-Infinity: never).
   */
  orphans(leaseMs: number, held: (id: string) => boolean, heardAt: (id: string) => number): Job[] {
    const now = this.now();
    const free = (job: Job): boolean => {
      const lease = job.lease;
      if (!lease || lease.holder === this.holder) return true;
      if (lease.node === this.nodeId) return true; // this node restarted: that process is gone
      return now - Date.parse(lease.renewedAt) >= leaseMs && now - heardAt(job.id) >= leaseMs;
    };
    return this.store
      .list()
      .filter((job) => !isFinished(job.state) && !held(job.id) && free(job))
      .reverse();
  }

  /** Writes an orphan (changed as the caller decided, under our lease) unless another process renewed or claimed it since `orphans()`. */
  claim(orphan: Job): Promise<boolean> {
    const seen = orphan.lease;
    const unchanged = (current: Job | undefined): boolean =>
      current !== undefined && !isFinished(current.state) && current.lease?.holder === seen?.holder && current.lease?.renewedAt === seen?.renewedAt;
    return this.write(orphan, unchanged, false, false);
  }

  /** Waits for the saves under way. */
  async settled(): Promise<void> {
    await Promise.all(this.writes);
  }

  private write(job: Job, check: (current: Job | undefined) => boolean, release: boolean, loseOnRefusal: boolean): Promise<boolean> {
    const at = new Date(this.now()).toISOString();
    job.updatedAt = at;
    job.seq = (job.seq ?? 0) + 1;
    job.lease = isFinished(job.state) || release ? undefined : { holder: this.holder, renewedAt: at, node: this.nodeId };
    // The record as it is now: the job object keeps changing while this write waits for its
    // transaction, and an earlier save must not write a later state (nor a later one an earlier).
    const record = structuredClone(job);
    const write = this.store.saveIf(record, check, { durable: isFinished(record.state) || release }).then(
      async (saved) => {
        if (!saved && loseOnRefusal) this.onLost(job);
        if (saved) {
          const shared = this.onSaved(record);
          // How a job ended, or that it was handed back, is known to every node before the save resolves.
          if (isFinished(record.state) || release) await shared;
        }
        return saved;
      },
      (err: unknown) => {
        this.log.warn({ err, job: job.id }, 'could not persist job state');
        return false;
      },
    );
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return write;
  }
}
