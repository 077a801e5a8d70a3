/**
 * What every benchmark script shares: its error type (a message, not a stack), its exit code,
 * and how it reads numbers and lists from the environment.
 */

/** A failure the benchmark explains in its message (printed without a stack). */
export class BenchError extends Error {}

export const MiB = 1024 * 1024;

/**
 * Runs a benchmark's `main` and sets the exit code: its result, or 1 when it throws (a
 * BenchError prints its message, anything else its stack).
 */
export function runBench(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`\nbenchmark failed: ${err instanceof BenchError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/**
 * A whole number from the environment (`fallback` when unset or empty); a BenchError when it is
 * below `min`. `what` names the expected value in that error.
 */
export function envInt(name: string, fallback: number, min: number, what = `a whole number >= ${min}`): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new BenchError(`${name} must be ${what}, got "${raw}"`);
  return Number(raw);
}

/** A list from the environment, split on commas and blanks, lower-cased (`fallback` when unset or blank). */
export function envList(name: string, fallback: string[]): string[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw
    .split(/[\s,]+/)
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}
