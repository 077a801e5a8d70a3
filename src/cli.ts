#!/usr/bin/env node
/**
 * ringcache serve | purge | load | jobs: see USAGE.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadClientCredentials, loadConfig } from './config/load-config';
import { purgeCommand } from './cli-purge';
import { loadCommand, UsageError } from './cli-load';
import { jobsCommand } from './cli-jobs';
import { JobsRequestError } from './jobs/jobs-client';

const USAGE = `usage: ringcache serve [--config FILE]
       ringcache purge [--endpoint URL] BUCKET/KEY | --prefix BUCKET/PREFIX
       ringcache load [--endpoint URL] [--concurrency N] [--bandwidth 100MiB/s] [--metadata-only]
                      [--no-skip-cached] [--max-failures N|P%] [--json] [--detach] BUCKET/PREFIX
       ringcache jobs [--endpoint URL] [--json] [show ID | cancel ID]

  serve    start the S3 gateway. Without --config it listens on 127.0.0.1:9000 over ./data,
           where each top-level folder is a bucket.
  purge    drop one object (or every object under a prefix) from a running gateway's cache.
           Signs with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default: the embedded key).
  load     warm every object under BUCKET/PREFIX into the cache (a load job), and follow it
           with a progress bar (plain lines when stdout is not a terminal) until it ends.
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
           cancels too); when stdin is not a terminal it cancels at once. Exit status: 0 when
           the job completed, 1 when it failed or was cancelled, 2 for a usage error.
  jobs     list the load jobs of a running gateway; "show ID" prints one as JSON,
           "cancel ID" cancels it.

Environment overrides: RINGCACHE_HOST, RINGCACHE_PORT, RINGCACHE_DATA_DIR, RINGCACHE_REGION,
RINGCACHE_BASE_DOMAIN, RINGCACHE_LOG_LEVEL, RINGCACHE_ACCESS_KEY_ID + RINGCACHE_SECRET_ACCESS_KEY.`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  prefix: { type: 'boolean' },
  endpoint: { type: 'string', default: 'http://127.0.0.1:9000' },
  concurrency: { type: 'string' },
  bandwidth: { type: 'string' },
  'metadata-only': { type: 'boolean' },
  'no-skip-cached': { type: 'boolean' },
  'max-failures': { type: 'string' },
  json: { type: 'boolean' },
  detach: { type: 'boolean' },
} as const;

/** The flags and words; an unknown or malformed flag is a UsageError. */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The gateway's URL (http or https), or a UsageError. */
function endpointOf(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new UsageError(`--endpoint "${text}": expected a URL such as http://127.0.0.1:9000`);
  return text;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const endpoint = positionals[0] === 'serve' ? '' : endpointOf(values.endpoint);
  if (positionals[0] === 'purge') {
    if (positionals.length !== 2) {
      console.error(USAGE);
      return 2;
    }
    console.log(await purgeCommand(positionals[1], { prefix: values.prefix === true, endpoint, credentials: loadClientCredentials() }));
    return 0;
  }
  if (positionals[0] === 'load') {
    if (positionals.length !== 2) {
      console.error(USAGE);
      return 2;
    }
    return loadCommand(positionals[1], {
      endpoint,
      credentials: loadClientCredentials(),
      concurrency: values.concurrency,
      bandwidth: values.bandwidth,
      metadataOnly: values['metadata-only'] === true,
      skipCached: values['no-skip-cached'] !== true,
      maxFailures: values['max-failures'],
      json: values.json === true,
      detach: values.detach === true,
    });
  }
  if (positionals[0] === 'jobs') {
    const { output, status } = await jobsCommand(positionals.slice(1), { endpoint, credentials: loadClientCredentials(), json: values.json === true });
    if (status === 2) console.error(USAGE);
    else console.log(output);
    return status;
  }
  if (positionals[0] !== 'serve') {
    console.error(`unknown command "${positionals[0]}"\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig({ file: values.config });
  // Loaded only to serve: the client commands start faster without the gateway's modules.
  const { startGateway } = await import('./main');
  const gateway = await startGateway(config);
  const stop = (): void => {
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    console.error(err instanceof ConfigError || err instanceof JobsRequestError ? err.message : err);
    process.exitCode = 1;
  },
);
