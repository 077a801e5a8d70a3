/**
 * `ringcache jobs [--json]`: the load jobs of a running gateway (those of buckets the key can
 * read), newest first, as a table. `ringcache jobs show ID` prints one job as JSON;
 * `ringcache jobs cancel ID` cancels one and prints where it ended.
 */
import { jobsTable, summary } from '../jobs/job-format';
import { isFinished } from '../jobs/job-types';
import type { ClientCredentials } from './client-settings';
import { JobsClient } from './jobs-client';
import { UsageError } from './usage';

interface JobsCommandOptions {
  endpoint: string;
  credentials: ClientCredentials;
  json: boolean;
}

/** args: [] | ['show', ID] | ['cancel', ID]. Returns the text to print and the exit status; UsageError for other words. */
export async function jobsCommand(args: readonly string[], options: JobsCommandOptions): Promise<{ output: string; status: number }> {
  const [action, id] = args;
  if (action !== undefined && !((action === 'show' || action === 'cancel') && id !== undefined && args.length === 2)) {
    throw new UsageError(`jobs: expected no words, "show ID" or "cancel ID", got "${args.join(' ')}"`);
  }
  const client = new JobsClient(options.endpoint, options.credentials);
  if (action === undefined) {
    const jobs = await client.list();
    return { output: options.json ? JSON.stringify(jobs, null, 2) : jobsTable(jobs), status: 0 };
  }
  const job = action === 'show' ? await client.get(id) : await client.cancel(id);
  const text = options.json || action === 'show' ? JSON.stringify(job, null, 2) : summary(job);
  // A cancel answered before the job had stopped is not a success yet.
  return { output: text, status: action === 'cancel' && !isFinished(job.state) ? 1 : 0 };
}
