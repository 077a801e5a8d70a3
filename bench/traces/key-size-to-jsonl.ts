/**
 * Converts a plain list of "key size" lines (an `aws s3 ls --recursive` reduced to its last
 * two columns, a log reduced to key and size, ...) into the JSONL trace format, one GET of
 * the whole object per line, in line order.
 *
 *   node dist/bench/traces/key-size-to-jsonl.js [--bucket NAME] < keys.txt > trace.jsonl
 *
 * The last whitespace-separated field of a line is the size in bytes and everything before
 * it the key (keys may contain spaces). Blank lines and lines starting with '#' are skipped.
 * `t` is the line's position (0, 1, 2, ...), since the input has no time. Exit code 1 on a
 * malformed line (its number is printed).
 */
import { createInterface } from 'node:readline';
import { keySizeLineToRecord } from './trace';

// A closed pipe (`| head`) ends the output, not in an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let bucket = 'trace';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--bucket' && args[i + 1] !== undefined) bucket = args[++i];
    else throw new Error(`usage: key-size-to-jsonl [--bucket NAME] < keys.txt > trace.jsonl (unknown argument ${args[i]})`);
  }
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let line = 0;
  let t = 0;
  for await (const text of lines) {
    line++;
    const record = keySizeLineToRecord(text, line, bucket, t);
    if (!record) continue;
    t++;
    if (!process.stdout.write(`${JSON.stringify(record)}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
