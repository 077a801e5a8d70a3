/**
 * The load-job API (/_ringcache/jobs) for the CLI and tests, over the signed admin client.
 */
import type { SubmitInput } from '../jobs/job-options';
import type { JobView } from '../jobs/job-types';
import { AdminClient } from './admin-client';
import type { ClientCredentials } from './client-settings';

export class JobsClient {
  private readonly admin: AdminClient;

  constructor(endpoint: string, credentials: ClientCredentials) {
    this.admin = new AdminClient(endpoint, credentials);
  }

  submit(input: SubmitInput): Promise<JobView> {
    return this.admin.json<JobView>({ method: 'POST', path: '/_ringcache/jobs', body: input });
  }

  get(id: string): Promise<JobView> {
    return this.admin.json<JobView>({ path: `/_ringcache/jobs/${encodeURIComponent(id)}` });
  }

  async list(): Promise<JobView[]> {
    return (await this.admin.json<{ jobs: JobView[] }>({ path: '/_ringcache/jobs' })).jobs;
  }

  cancel(id: string): Promise<JobView> {
    return this.admin.json<JobView>({ method: 'DELETE', path: `/_ringcache/jobs/${encodeURIComponent(id)}` });
  }
}
