#!/usr/bin/env node
/**
 * The `ringcache` command: serve | status | load | jobs | purge (see usage.ts). Every failure
 * ends in one line on stderr and an exit status: 2 for a usage error, 1 for anything else.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load-config';
import { AdminRequestError } from './admin-client';
import { clientSettings, ClientSettingsError } from './client-settings';
import { jobsCommand } from './jobs';
import { loadCommand } from './load';
import { purgeCommand } from './purge';
import { ServeError, serveCommand } from './serve';
import { statusCommand } from './status';
import { USAGE, UsageError } from './usage';

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  prefix: { type: 'boolean' },
  endpoint: { type: 'string' },
  concurrency: { type: 'string' },
  bandwidth: { type: 'string' },
  'metadata-only': { type: 'boolean' },
  'no-skip-cached': { type: 'boolean' },
  'max-failures': { type: 'string' },
  json: { type: 'boolean' },
  detach: { type: 'boolean' },
} as const;

/** Which flags each command takes (besides --help). */
const FLAGS: Record<string, readonly string[]> = {
  serve: ['config'],
  status: ['endpoint', 'json'],
  load: ['endpoint', 'concurrency', 'bandwidth', 'metadata-only', 'no-skip-cached', 'max-failures', 'json', 'detach'],
  jobs: ['endpoint', 'json'],
  purge: ['endpoint', 'prefix'],
};

/** The flags and words; an unknown or malformed flag is a UsageError. */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function expectWords(command: string, words: readonly string[], count: number, what: string): void {
  if (words.length !== count) throw new UsageError(`${command}: expected ${what}, got ${words.length === 0 ? 'nothing' : `"${words.join(' ')}"`}`);
}

/** Runs the command; the exit status, or a promise that settles when `serve` stops. */
async function main(argv: string[]): Promise<number | { stopped: Promise<void> }> {
  const { values, positionals } = parseCommandLine(argv);
  const [command, ...words] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined) throw new UsageError('no command given');
  const allowed = FLAGS[command];
  if (!allowed) throw new UsageError(`unknown command "${command}"`);
  const misplaced = Object.keys(values).filter((flag) => !allowed.includes(flag));
  if (misplaced.length > 0) throw new UsageError(`${command} does not take ${misplaced.map((f) => `--${f}`).join(', ')}`);

  if (command === 'serve') {
    expectWords('serve', words, 0, 'no words (use --config FILE)');
    return serveCommand(values.config);
  }
  if (command === 'purge') expectWords('purge', words, 1, values.prefix ? 'BUCKET/PREFIX' : 'BUCKET/KEY (or --prefix BUCKET/PREFIX)');
  if (command === 'load') expectWords('load', words, 1, 'BUCKET/PREFIX');
  if (command === 'status') expectWords('status', words, 0, 'no words');
  const { endpoint, credentials } = await clientSettings({ endpoint: values.endpoint });
  switch (command) {
    case 'status':
      console.log(await statusCommand({ endpoint, credentials, json: values.json === true }));
      return 0;
    case 'purge':
      console.log(await purgeCommand(words[0], { prefix: values.prefix === true, endpoint, credentials }));
      return 0;
    case 'load':
      return loadCommand(words[0], {
        endpoint,
        credentials,
        concurrency: values.concurrency,
        bandwidth: values.bandwidth,
        metadataOnly: values['metadata-only'] === true,
        skipCached: values['no-skip-cached'] !== true,
        maxFailures: values['max-failures'],
        json: values.json === true,
        detach: values.detach === true,
      });
    default: {
      const { output, status } = await jobsCommand(words, { endpoint, credentials, json: values.json === true });
      console.log(output);
      return status;
    }
  }
}

/** Errors whose message is meant for the user as it is. */
const EXPECTED = [ConfigError, AdminRequestError, ClientSettingsError, ServeError];

function fail(err: unknown): void {
  if (err instanceof UsageError) {
    process.stderr.write(`ringcache: ${err.message} (ringcache --help shows the usage)\n`);
    process.exitCode = 2;
    return;
  }
  const error = err instanceof Error ? err : new Error(String(err));
  const expected = EXPECTED.some((kind) => error instanceof kind);
  // Anything else is a bug or an unforeseen condition: still one line, with its kind.
  process.stderr.write(`ringcache: ${expected ? error.message : `${error.name}: ${error.message}`}\n`);
  process.exitCode = 1;
}

main(process.argv.slice(2)).then((result) => {
  if (typeof result === 'number') {
    process.exitCode = result;
    return;
  }
  result.stopped.then(() => process.exit(0), (err: unknown) => {
    fail(err);
    process.exit(1);
  });
}, fail);
