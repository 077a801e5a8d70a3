/**
 * Writes one of the benchmark's generated traces in the JSONL trace format, to replay it
 * elsewhere (another simulator, or against a running gateway).
 *
 *   node dist/bench/traces/write-trace.js zipf-0.9+scan > scan.jsonl
 *   BENCH_SCALE=0.1 BENCH_SEED=2 node dist/bench/traces/write-trace.js loop > loop.jsonl
 *
 * Objects are named obj-<8-digit id> in bucket "trace" and `t` is the request's position.
 */
import { standardTraces } from './catalog';
import { traceLines } from './trace';

// A closed pipe (`| head`) ends the output, not in an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));

async function main(): Promise<void> {
  const name = process.argv[2];
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  const seed = Number(process.env.BENCH_SEED ?? 1);
  const cases = standardTraces(scale, seed);
  const tc = cases.find((c) => c.trace.name === name);
  if (!tc) throw new Error(`usage: write-trace <name>; names: ${cases.map((c) => c.trace.name).join(', ')}`);
  for (const line of traceLines(tc.trace)) {
    if (!process.stdout.write(`${line}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
