/** Plain HTTP from Node, for verification and latency. */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { BenchError } from './bench-run';

export interface HttpResult {
  status: number;
  bytes: number;
  sha256?: string;
  ms: number;
  body?: string;
}

/** One request; `ms` is from the call to the last body byte. */
export function httpRequest(url: string, options: { agent: http.Agent; method?: string; hash?: boolean; timeoutMs?: number }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method: options.method ?? 'GET', agent: options.agent }, (res) => {
      const hash = options.hash ? createHash('sha256') : undefined;
      const status = res.statusCode ?? 0;
      let bytes = 0;
      let body = '';
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash?.update(chunk);
        if (status >= 400 && body.length < 2000) body += chunk.toString('utf8');
      });
      res.once('end', () => resolve({ status, bytes, sha256: hash?.digest('hex'), ms: performance.now() - t0, body: body || undefined }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.setTimeout(options.timeoutMs ?? 120_000, () => req.destroy(new BenchError(`timeout: ${options.method ?? 'GET'} ${url}`)));
    req.end();
  });
}
