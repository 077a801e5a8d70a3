/**
 * Prometheus metrics on a registry of our own (no global state). Labels stay small and
 * bounded: op (an S3 operation name), status, direction; never a bucket key.
 */
import { Transform } from 'node:stream';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'ringcache_s3_requests_total',
    help: 'S3 requests by operation and HTTP status',
    labelNames: ['op', 'status'] as const,
    registers: [this.registry],
  });

  readonly duration = new Histogram({
    name: 'ringcache_s3_request_duration_seconds',
    help: 'S3 request latency, from request to the end of the response',
    labelNames: ['op'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly bytes = new Counter({
    name: 'ringcache_s3_bytes_total',
    help: 'Object payload bytes received (in) and sent (out) by operation',
    labelNames: ['op', 'direction'] as const,
    registers: [this.registry],
  });

  readonly multipartSwept = new Counter({
    name: 'ringcache_multipart_uploads_swept_total',
    help: 'Abandoned multipart uploads removed by the sweeper',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ringcache_' });
  }

  /** A pass-through stream that adds the bytes it sees to the bytes counter. */
  countBytes(op: string, direction: 'in' | 'out'): Transform {
    const counter = this.bytes.labels(op, direction);
    return new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        counter.inc(chunk.length);
        callback(null, chunk);
      },
    });
  }
}
