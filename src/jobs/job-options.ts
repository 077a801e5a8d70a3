/**
 * A job submission as the API accepts it (JSON), validated once into a JobSpec; and the
 * parsers of the human forms shared with the CLI: byte rates ("100MiB/s") and failure
 * thresholds ("10", "5%").
 */
import { z } from 'zod';
import type { FailureThreshold, JobSpec } from './job-types';

/** A submission that does not validate (the API answers 400 InvalidArgument with its message). */
export class JobOptionsError extends Error {
  override name = 'JobOptionsError';
}

export interface JobDefaults {
  concurrency: number;
}

/** Unless said otherwise, a job fails once more than 5% of its files failed. */
export const DEFAULT_MAX_FAILURES: FailureThreshold = { kind: 'fraction', value: 0.05 };

export const MAX_CONCURRENCY = 256;

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * "100MiB/s", "1.5GB/s", "800K", "1048576" -> bytes per second. KB/MB/GB are powers of 1000,
 * KiB/MiB/GiB and the bare K/M/G powers of 1024 (as rclone's --bwlimit). Zero ("0", "0MiB/s")
 * is unlimited; a rate above zero that is less than 1 byte per second is refused (it would
 * otherwise round to 0, unlimited).
 */
export function parseByteRate(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:\/\s*s)?\s*$/i.exec(text);
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new Error(`bandwidth "${text}": expected a rate such as 100MiB/s, 50MB/s or 800K`);
  const rate = Number(match[1]) * unit;
  if (rate > 0 && rate < 1) throw new Error(`bandwidth "${text}": less than 1 byte per second (0 means unlimited)`);
  return Math.round(rate);
}

/** 10 -> at most 10 failed files; "5%" -> at most 5% of the files. */
export function parseFailureThreshold(value: string | number): FailureThreshold {
  const text = String(value).trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const fraction = Number(percent[1]) / 100;
    if (fraction > 1) throw new Error(`maxFailures "${text}": a percentage is at most 100%`);
    return { kind: 'fraction', value: fraction };
  }
  if (/^\d+$/.test(text)) return { kind: 'count', value: Number(text) };
  throw new Error(`maxFailures "${text}": expected a number of files (10) or a percentage (5%)`);
}

const rate = z.union([z.number().int().min(0), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  try {
    return parseByteRate(value);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

const threshold = z.union([z.number().int().min(0), z.string()]).transform((value, ctx) => {
  try {
    return parseFailureThreshold(value);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

/** The body of POST /_ringcache/jobs. */
export const submitSchema = z
  .object({
    bucket: z.string().min(1, 'bucket is required'),
    prefix: z.string().max(1024, 'prefix is longer than a key may be').default(''),
    options: z
      .object({
        skipCached: z.boolean().default(true),
        metadataOnly: z.boolean().default(false),
        concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
        /** Bytes per second (a number) or a rate such as "100MiB/s"; 0 or absent: unlimited. */
        bandwidth: rate.optional(),
        /** Failed files allowed: a count (10) or a percentage ("5%"). */
        maxFailures: threshold.optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type SubmitInput = z.input<typeof submitSchema>;

/** Validates a submission; throws an Error whose message lists every problem. */
export function parseSubmission(body: unknown, defaults: JobDefaults): JobSpec {
  const result = submitSchema.safeParse(body);
  if (!result.success) {
    throw new JobOptionsError(result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  const { bucket, prefix, options } = result.data;
  return {
    bucket,
    prefix,
    options: {
      skipCached: options.skipCached,
      metadataOnly: options.metadataOnly,
      concurrency: options.concurrency ?? defaults.concurrency,
      bandwidthBytesPerSecond: options.bandwidth ?? 0,
      maxFailures: options.maxFailures ?? DEFAULT_MAX_FAILURES,
    },
  };
}
