/**
 * The command's usage text, and the error for a command line that does not follow it
 * (exit status 2; every other failure is 1).
 */

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage: ringcache serve [--config FILE]
       ringcache status [--endpoint URL] [--json]
       ringcache load [--endpoint URL] [--concurrency N] [--bandwidth 100MiB/s] [--metadata-only]
                      [--no-skip-cached] [--max-failures N|P%] [--json] [--detach] BUCKET/PREFIX
       ringcache jobs [--endpoint URL] [--json] [show ID | cancel ID]
       ringcache purge [--endpoint URL] BUCKET/KEY | --prefix BUCKET/PREFIX

  serve    start the S3 gateway. Without --config it listens on 127.0.0.1:9000 over ./data,
           where each top-level folder is a bucket.
  status   the ring (members, health, share of the keys), each node's cache (hit ratio, pages
           and bytes held by tier) and the running jobs of a gateway.
  load     warm every object under BUCKET/PREFIX into the cache (a load job): prints the job id,
           then follows it with a progress bar (plain lines when stdout is not a terminal).
             --concurrency N     batches in flight (default: the gateway's jobs.concurrency)
             --bandwidth RATE    at most this much read from the store per second (100MiB/s, 50MB/s)
             --metadata-only     cache object metadata only, no data
             --no-skip-cached    read every page again, even those already cached (as a purge
                                 does: needs write access to the bucket)
             --max-failures T    fail the job past T failed files, a count (10) or a share (5%);
                                 default 5%
             --json              print only the final job, as JSON
             --detach            print the job id and return; the job goes on
           Ctrl-C asks whether to cancel the job (y cancels; a second Ctrl-C at the question
           cancels too); when stdin is not a terminal it cancels at once.
  jobs     list the load jobs of a running gateway; "show ID" prints one as JSON,
           "cancel ID" cancels it.
  purge    drop one object (or every object under a prefix) from a running gateway's cache.

Client commands (status, load, jobs, purge) talk to --endpoint, else RINGCACHE_ENDPOINT, else
http://127.0.0.1:9000, and sign with AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, else the
AWS_PROFILE profile of ~/.aws/credentials, else the embedded default key.

Exit status: 0 done (load: the job completed), 1 failed (load: the job failed or was
cancelled), 2 usage error.

serve reads RINGCACHE_HOST, RINGCACHE_PORT, RINGCACHE_DATA_DIR, RINGCACHE_REGION,
RINGCACHE_BASE_DOMAIN, RINGCACHE_LOG_LEVEL, RINGCACHE_ACCESS_KEY_ID + RINGCACHE_SECRET_ACCESS_KEY
and the others listed in the README.`;
