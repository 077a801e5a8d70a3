/**
 * Job records in their own LMDB environment (config.jobs.stateDir), one record per job id,
 * so that a restarted coordinator can report its jobs truthfully. lmdb-js commits with
 * `overlappingSync`: a write resolves once committed (visible), and reaches the disk a moment
 * later. Writes that must survive a crash (a job's final state, its checkpoint at shutdown)
 * ask for `durable` and also wait for the store's `flushed` promise.
 * One gateway process per state directory; `saveIf` is a compare-and-set (LMDB serialises
 * write transactions, across processes too), which the leases of unfinished jobs rely on.
 */
import { mkdirSync } from 'node:fs';
import { quarantineDamagedEnvironment } from '../cache/disk-environment';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { isFinished, type Job } from './job-types';

const MiB = 1024 * 1024;

interface OpenEnv {
  env: RootDatabase;
  jobs: Database<Job, string>;
  stores: number;
}

/**
 * One environment per directory in this process, shared by every JobStore opened on it: LMDB
 * must not open one file twice in a process (two lmdb-js writers on it can deadlock).
 */
const openEnvs = new Map<string, OpenEnv>();

export class JobStore {
  private readonly jobs: Database<Job, string>;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly shared: OpenEnv,
  ) {
    this.jobs = shared.jobs;
  }

  /**
   * Opens (creating if needed) the environment at `dir`, resolved against the working directory.
   * A damaged file (mapping it would kill the process) is moved aside first and reported to
   * `onDamaged`: the jobs it held are lost, the gateway runs.
   */
  static open(dir: string, onDamaged: (damage: { reason: string; movedTo: string }) => void = () => undefined): JobStore {
    const resolved = path.resolve(dir);
    let shared = openEnvs.get(resolved);
    if (!shared) {
      mkdirSync(resolved, { recursive: true });
      const damage = quarantineDamagedEnvironment(resolved);
      if (damage) onDamaged(damage);
      const env = open({ path: resolved, mapSize: 64 * MiB, maxDbs: 2, compression: false, encoding: 'binary' });
      try {
        shared = { env, jobs: env.openDB<Job, string>('jobs', { encoding: 'msgpack', compression: false }), stores: 0 };
      } catch (err) {
        void env.close();
        throw err;
      }
      openEnvs.set(resolved, shared);
    }
    shared.stores++;
    return new JobStore(resolved, shared);
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Every job, newest first (ids sort by creation time). */
  list(): Job[] {
    // A fresh snapshot: lmdb-js reuses a read transaction across calls, which may predate the
    // last committed save (a finished job would show its previous state).
    this.jobs.resetReadTxn();
    const all: Job[] = [];
    for (const { value } of this.jobs.getRange({ reverse: true })) all.push(value);
    return all;
  }

  async save(job: Job, options: { durable?: boolean } = {}): Promise<void> {
    await this.jobs.put(job.id, job);
    if (options.durable) await this.jobs.flushed;
  }

  /** Writes `job` only if `check` accepts the record stored now (in one write transaction); returns whether it did. */
  async saveIf(job: Job, check: (current: Job | undefined) => boolean, options: { durable?: boolean } = {}): Promise<boolean> {
    const saved = await this.jobs.transaction(() => {
      if (!check(this.jobs.get(job.id))) return false;
      void this.jobs.put(job.id, job);
      return true;
    });
    if (saved && options.durable) await this.jobs.flushed;
    return saved;
  }

  /** Removes finished jobs whose end is older than `retainMs`; returns how many. */
  async purgeExpired(retainMs: number, now: number): Promise<number> {
    const expired: string[] = [];
    for (const { key, value } of this.jobs.getRange()) {
      if (isExpired(value, retainMs, now)) expired.push(key);
    }
    if (expired.length === 0) return 0;
    await this.jobs.transaction(() => {
      for (const id of expired) void this.jobs.remove(id);
    });
    return expired.length;
  }

  /** Closes the environment once no other store of this process uses it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (--this.shared.stores > 0) return;
    openEnvs.delete(this.dir);
    await this.shared.env.close();
  }
}

export function isExpired(job: Job, retainMs: number, now: number): boolean {
  return isFinished(job.state) && job.finishedAt !== undefined && Date.parse(job.finishedAt) + retainMs <= now;
}
