/**
 * Job records in their own LMDB environment (config.jobs.stateDir), one record per job id,
 * so that a restarted coordinator can report its jobs truthfully. Writes are synced commits
 * (lmdb-js defaults). One gateway process per state directory.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { isFinished, type Job } from './job-types';

const MiB = 1024 * 1024;

export class JobStore {
  private constructor(
    private readonly env: RootDatabase,
    private readonly jobs: Database<Job, string>,
  ) {}

  /** Opens (creating if needed) the environment at `dir`, resolved against the working directory. */
  static open(dir: string): JobStore {
    const resolved = path.resolve(dir);
    mkdirSync(resolved, { recursive: true });
    const env = open({ path: resolved, mapSize: 64 * MiB, maxDbs: 2, compression: false, encoding: 'binary' });
    try {
      return new JobStore(env, env.openDB<Job, string>('jobs', { encoding: 'msgpack', compression: false }));
    } catch (err) {
      void env.close();
      throw err;
    }
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** Every job, newest first (ids sort by creation time). */
  list(): Job[] {
    const all: Job[] = [];
    for (const { value } of this.jobs.getRange({ reverse: true })) all.push(value);
    return all;
  }

  async save(job: Job): Promise<void> {
    await this.jobs.put(job.id, job);
  }

  async delete(id: string): Promise<void> {
    await this.jobs.remove(id);
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

  async close(): Promise<void> {
    await this.env.close();
  }
}

export function isExpired(job: Job, retainMs: number, now: number): boolean {
  return isFinished(job.state) && job.finishedAt !== undefined && Date.parse(job.finishedAt) + retainMs <= now;
}
