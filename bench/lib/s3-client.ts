/** The S3 side of the benchmarks: one client configuration for the gateway under test, and reading a body. */
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { BenchError } from './bench-run';

/** The credentials every benchmark gateway is started with. */
export const BENCH_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench-secret-key' };

/**
 * A path-style client of `url` with the benchmark credentials and no retries (a retry would hide
 * failures and distort the timings). `plainChecksums`: plain Content-Length bodies and no
 * checksum mode in presigned URLs.
 */
export function benchS3Client(url: string, options: { plainChecksums?: boolean } = {}): S3Client {
  return new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...BENCH_CREDENTIALS },
    maxAttempts: 1,
    ...(options.plainChecksums ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
  });
}

/** Reads a GetObject body to its end, handing each chunk to `onChunk`; the byte count. */
export async function drain(body: unknown, onChunk: (chunk: Buffer) => void): Promise<number> {
  if (!(body instanceof Readable)) throw new BenchError('GetObject returned a body that is not a Node.js stream');
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    onChunk(chunk);
    total += chunk.length;
  }
  return total;
}
