#!/usr/bin/env node
/**
 * ringcache serve [--config FILE]
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadClientCredentials, loadConfig } from './config/load-config';
import { purgeCommand } from './cli-purge';
import { startGateway } from './main';

const USAGE = `usage: ringcache serve [--config FILE]
       ringcache purge [--endpoint URL] BUCKET/KEY | --prefix BUCKET/PREFIX

  serve    start the S3 gateway. Without --config it listens on 127.0.0.1:9000 over ./data,
           where each top-level folder is a bucket.
  purge    drop one object (or every object under a prefix) from a running gateway's cache.
           Signs with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default: the embedded key).

Environment overrides: RINGCACHE_HOST, RINGCACHE_PORT, RINGCACHE_DATA_DIR, RINGCACHE_REGION,
RINGCACHE_BASE_DOMAIN, RINGCACHE_LOG_LEVEL, RINGCACHE_ACCESS_KEY_ID + RINGCACHE_SECRET_ACCESS_KEY.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      prefix: { type: 'boolean' },
      endpoint: { type: 'string', default: 'http://127.0.0.1:9000' },
    },
  });
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (positionals[0] === 'purge') {
    if (positionals.length !== 2) {
      console.error(USAGE);
      return 2;
    }
    console.log(await purgeCommand(positionals[1], { prefix: values.prefix === true, endpoint: values.endpoint as string, credentials: loadClientCredentials() }));
    return 0;
  }
  if (positionals[0] !== 'serve') {
    console.error(`unknown command "${positionals[0]}"\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig({ file: values.config });
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
    console.error(err instanceof ConfigError ? err.message : err);
    process.exitCode = 1;
  },
);
